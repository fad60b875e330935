"""Settings → Billing (company host, owners only): usage against limits, a daily chart, the
upcoming invoice estimate, invoices (HTML and PDF) and the plan-change request."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from billing import pdf, selectors, services
from billing.errors import PlanChangeRefused
from billing.models import Category, Plan
from tenants.models import Company

View = Callable[..., HttpResponse]
OWNERS_ONLY = _("Only the company's owners see billing and change the plan.")
CHART_HEIGHT = 120


def owner_required(view: View) -> View:
    """Logged in as an owner; everyone else gets the readable 403 page."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.role != User.Role.OWNER:  # type: ignore[union-attr]
            return render(request, "accounts/forbidden.html", {"message": OWNERS_ONLY}, status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _company(request: HttpRequest) -> Company:
    return request.tenant  # type: ignore[attr-defined,no-any-return]  # set by CompanyHostMiddleware


class PlanRequestForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.all(), to_field_name="code", empty_label=None)


def _chart(days: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars of messages per day, scaled to the busiest day (server-rendered SVG, no script)."""
    peak = max((d["count"] for d in days), default=0) or 1
    width = 14
    bars = []
    for i, d in enumerate(days):
        height = round(CHART_HEIGHT * d["count"] / peak)
        bars.append({**d, "x": i * (width + 4), "y": CHART_HEIGHT - height, "height": height, "width": width})
    return {"bars": bars, "width": len(days) * (width + 4), "height": CHART_HEIGHT, "peak": peak}


def _limit_rows(limits: dict[str, dict[str, int | None]]) -> list[dict[str, Any]]:
    labels = {
        "agents": _("Agents (active and invited)"),
        "phone_numbers": _("Connected numbers"),
        "business_initiated_per_day": _("Template messages today (UTC)"),
        "outgoing_webhooks": _("Webhook subscriptions"),
    }
    rows = []
    for name, value in limits.items():
        used, allowed = value["used"] or 0, value["allowed"]
        percent = 100 if allowed == 0 else (min(100, round(100 * used / allowed)) if allowed else 0)
        rows.append(
            {"name": name, "label": labels.get(name, name), "used": used, "allowed": allowed, "percent": percent}
        )
    return rows


@never_cache
@require_GET
@owner_required
def billing_overview(request: HttpRequest) -> HttpResponse:
    company = _company(request)
    plan = selectors.company_plan(company=company)
    usage = selectors.company_usage_period(company=company)
    period = usage["period"]
    context = {
        "section": "billing",
        "plan": plan,
        "plans": selectors.plan_list(),
        "usage": usage,
        "categories": [(c, Category(c).label, usage["by_category"][c]) for c in Category.values],
        "limits": _limit_rows(selectors.company_limits(company=company, plan=plan)),
        "chart": _chart(selectors.usage_daily(company=company, start=period["start"], end=period["end"])),
        "estimate": selectors.invoice_estimate(company=company),
        "invoices": selectors.invoice_list(company=company),
        "requests": selectors.plan_request_list(company=company),
        "form": PlanRequestForm(initial={"plan": plan.code}),
    }
    return render(request, "billing/overview.html", context)


@require_POST
@owner_required
def billing_plan_request(request: HttpRequest) -> HttpResponse:
    company = _company(request)
    form = PlanRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the plans."))
        return redirect("billing:overview")
    plan = form.cleaned_data["plan"]
    try:
        change = services.plan_change_request(company=company, plan=plan, requested_by=request.user.email)  # type: ignore[union-attr]
    except PlanChangeRefused as exc:
        messages.error(request, exc.message)
        return redirect("billing:overview")
    if change.status == change.Status.APPROVED:
        messages.success(request, _("You are on the %(plan)s plan now.") % {"plan": plan.name})
    elif change.status == change.Status.REJECTED:
        messages.error(
            request, _("The change to %(plan)s was refused: %(reason)s") % {"plan": plan.name, "reason": change.reason}
        )
    else:
        messages.success(
            request,
            _("Your request for the %(plan)s plan is with our team; you will see it here.") % {"plan": plan.name},
        )
    return redirect("billing:overview")


@require_GET
@owner_required
def invoice_detail(request: HttpRequest, number: int) -> HttpResponse:
    invoice = selectors.invoice_get(company=_company(request), number=number)
    return render(
        request, "billing/invoice.html", {"section": "billing", "invoice": invoice, "lines": invoice.lines.all()}
    )


@require_GET
@owner_required
def invoice_pdf(request: HttpRequest, number: int) -> HttpResponse:
    invoice = selectors.invoice_get(company=_company(request), number=number)
    response = HttpResponse(pdf.invoice_pdf(invoice), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{invoice.display_number}.pdf"'
    return response


def money(value: Decimal) -> str:
    return f"{value:,.2f}"
