"""Operator console (Django admin, public host). Pool rows (`building`/`pooled`) are not listed.

Nothing about a company is edited through a plain form: verification, suspension, plan and
template decisions are buttons that call the services in tenants/verification.py,
tenants/operator.py and billing.services, each of which writes the audit log
(OperatorAction, read-only here) in the same transaction. Message bodies are masked
unless the operator reveals one thread with a reason, which is audited too.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from billing import selectors as billing_selectors
from inbox.models import Thread
from tenants import operator, services, verification
from tenants.forms import RejectionForm
from tenants.models import BusinessProfile, Company, Domain, OperatorAction

logger = logging.getLogger(__name__)

POOL_STATUSES = (Company.Status.BUILDING, Company.Status.POOLED)


def _usage_text(usage: dict[str, Any]) -> str:
    """`marketing 12, utility 3 · EUR 1.20` from billing.selectors.company_usage_period."""
    counts = [f"{category} {row['count']}" for category, row in usage["by_category"].items() if row["count"]]
    return f"{', '.join(counts) or 'no messages'} · {usage['currency']} {usage['total']}"


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0
    fields = ["domain", "is_primary"]


class CompanyChangeList(ChangeList):
    """Loads the page's cross-schema numbers (agents, last activity) in one query."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        stats = operator.company_stats_list(companies=list(self.result_list))
        for company in self.result_list:
            company.stats = stats.get(company.pk)  # type: ignore[attr-defined]


class PlanChoiceForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=None, label=_("New plan"))  # type: ignore[arg-type]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from billing.models import Plan

        self.fields["plan"].queryset = Plan.objects.order_by("id")  # type: ignore[attr-defined]


class RevealForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        label=_("Why do you need to read these messages?"),
        help_text=_("Recorded in the audit log with your name."),
    )


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = [
        "slug", "name", "plan", "status", "verification", "agents", "usage_this_period", "last_activity",
        "provisioned_at",
    ]  # fmt: skip
    list_filter = ["status", "plan", "business_profile__state"]
    search_fields = ["slug", "name", "domains__domain"]
    # Every change goes through an audited action (the buttons on the change page), never a form.
    readonly_fields = [
        "name", "slug", "schema_name", "plan", "status", "suspended_reason", "verification_details",
        "created_at", "provisioned_at", "updated_at",
    ]  # fmt: skip
    fields = readonly_fields
    inlines = [DomainInline]
    list_select_related = ["plan", "business_profile"]
    ordering = ["-provisioned_at"]
    actions = ["verify_selected"]
    change_form_template = "admin/tenants/company/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[Company]:
        return super().get_queryset(request).exclude(status__in=POOL_STATUSES)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return CompanyChangeList

    # Companies are made by signup or `create_company` (one provisioning service), and a
    # deletion would drop a schema full of customer data: neither belongs behind a button.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Company | None = None) -> bool:
        return False

    # --- columns ---

    @admin.display(description="verification", ordering="business_profile__state")
    def verification(self, obj: Company) -> str:
        profile = getattr(obj, "business_profile", None)
        return profile.get_state_display() if profile else "Unverified"

    @admin.display(description="agents")
    def agents(self, obj: Company) -> int | str:
        stats = getattr(obj, "stats", None)
        return stats.agents if stats else "—"

    @admin.display(description="last activity")
    def last_activity(self, obj: Company) -> Any:
        stats = getattr(obj, "stats", None)
        return stats.last_activity_at if stats and stats.last_activity_at else "—"

    @admin.display(description="usage this period")
    def usage_this_period(self, obj: Company) -> str:
        # One public-schema query per row (billing's daily counters), no schema switch.
        return _usage_text(billing_selectors.company_usage_period(company=obj))

    @admin.display(description="business details")
    def verification_details(self, obj: Company) -> str:
        profile = getattr(obj, "business_profile", None)
        if profile is None:
            return "Not submitted."
        return format_html(
            "<strong>{}</strong><br>Legal name: {}<br>Display name: {}<br>Website: {}<br>Registration: {}<br>"
            "Address: {}<br>Verified name: {}<br>Rejection reason: {}<br>Decided by: {} {}",
            profile.get_state_display(),
            profile.legal_name,
            profile.display_name,
            profile.website or "—",
            profile.registration_number,
            profile.address,
            profile.verified_display_name or "—",
            profile.rejection_reason or "—",
            profile.decided_by_label or "—",
            profile.decided_at or "",
        )

    # --- bulk action ---

    @admin.action(description="Verify the selected companies' pending business details")
    def verify_selected(self, request: HttpRequest, queryset: QuerySet[Company]) -> None:
        for company in queryset:
            try:
                verification.company_verify(company=company, actor=request.user)  # type: ignore[arg-type]
            except verification.VerificationStateError as exc:
                self.message_user(request, str(exc), messages.ERROR)
            else:
                self.message_user(request, f"Verified {company.slug}.", messages.SUCCESS)

    # --- per-company action pages ---

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        own = [
            path("templates-review/", view(self.templates_review_view), name="tenants_company_templates_review"),
            path("<int:pk>/verify/", view(self.verify_view), name="tenants_company_verify"),
            path("<int:pk>/reject/", view(self.reject_view), name="tenants_company_reject"),
            path("<int:pk>/suspend/", view(self.suspend_view), name="tenants_company_suspend"),
            path("<int:pk>/unsuspend/", view(self.unsuspend_view), name="tenants_company_unsuspend"),
            path("<int:pk>/plan/", view(self.plan_view), name="tenants_company_plan"),
            path("<int:pk>/threads/", view(self.threads_view), name="tenants_company_threads"),
            path("<int:pk>/threads/<uuid:thread>/", view(self.thread_view), name="tenants_company_thread"),
        ]
        return own + super().get_urls()

    def _company(self, request: HttpRequest, pk: int) -> Company:
        company = self.get_queryset(request).filter(pk=pk).first()
        if company is None:
            raise Http404("No such company.")
        if not self.has_change_permission(request, company):
            raise PermissionDenied
        return company

    def _back(self, company: Company) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:tenants_company_change", args=[company.pk]))

    def _page(self, request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
        base = {**self.admin_site.each_context(request), "opts": self.model._meta}
        return TemplateResponse(request, template, {**base, **context}, status=status)

    def verify_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        company = self._company(request, pk)
        if request.method != "POST":
            return self._back(company)
        try:
            verification.company_verify(company=company, actor=request.user)  # type: ignore[arg-type]
        except verification.VerificationStateError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"Verified {company.slug}.", messages.SUCCESS)
        return self._back(company)

    def _reason_action(
        self, request: HttpRequest, company: Company, *, title: str, button: str, run: Any, done: str
    ) -> HttpResponse:
        form = RejectionForm(request.POST or None)
        status = 200
        if request.method == "POST":
            if form.is_valid():
                try:
                    run(form.cleaned_data["reason"])
                except (verification.VerificationStateError, operator.OperatorActionError) as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                    return self._back(company)
                except ValidationError as exc:
                    form.add_error(None, exc.messages)
                else:
                    self.message_user(request, done, messages.SUCCESS)
                    return self._back(company)
            status = 400
        context = {"title": title, "company": company, "form": form, "button": button}
        return self._page(request, "admin/tenants/company/reason_form.html", context, status)

    def reject_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        company = self._company(request, pk)
        return self._reason_action(
            request,
            company,
            title=f"Reject the business details of {company.slug}",
            button="Reject",
            run=lambda reason: verification.company_verification_reject(
                company=company,
                actor=request.user,
                reason=reason,  # type: ignore[arg-type]
            ),
            done=f"Rejected the business details of {company.slug}.",
        )

    def suspend_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        company = self._company(request, pk)
        return self._reason_action(
            request,
            company,
            title=f"Suspend {company.slug}",
            button="Suspend",
            run=lambda reason: operator.company_suspend(company=company, actor=request.user, reason=reason),  # type: ignore[arg-type]
            done=f"Suspended {company.slug}: its pages and API answer 403; inbound messages are still stored.",
        )

    def unsuspend_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        company = self._company(request, pk)
        return self._reason_action(
            request,
            company,
            title=f"Lift the suspension of {company.slug}",
            button="Lift suspension",
            run=lambda reason: operator.company_unsuspend(company=company, actor=request.user, reason=reason),  # type: ignore[arg-type]
            done=f"Lifted the suspension of {company.slug}.",
        )

    def plan_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        from billing import services as billing_services
        from billing.errors import PlanChangeRefused

        company = self._company(request, pk)
        form = PlanChoiceForm(request.POST or None, initial={"plan": company.plan_id})
        status = 200
        if request.method == "POST":
            if form.is_valid():
                try:
                    billing_services.plan_change(company=company, plan=form.cleaned_data["plan"], actor=request.user)
                except PlanChangeRefused as exc:
                    form.add_error(None, exc.message)
                else:
                    self.message_user(request, f"Moved {company.slug} to the plan {form.cleaned_data['plan']}.")
                    return self._back(company)
            status = 400
        context = {"title": f"Change the plan of {company.slug}", "company": company, "form": form, "button": "Change"}
        return self._page(request, "admin/tenants/company/reason_form.html", context, status)

    def threads_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        company = self._company(request, pk)
        rows = operator.thread_list_masked(company=company)
        return self._page(
            request,
            "admin/tenants/company/threads.html",
            {"title": f"Conversations of {company.slug}", "company": company, "threads": rows},
        )

    def thread_view(self, request: HttpRequest, pk: int, thread: Any) -> HttpResponse:
        company = self._company(request, pk)
        form = RevealForm(request.POST or None)
        reveal = request.method == "POST" and form.is_valid()
        try:
            rows = operator.thread_messages_for_operator(
                company=company,
                thread_public_id=str(thread),
                actor=request.user,  # type: ignore[arg-type]
                reveal=reveal,
                reason=form.cleaned_data.get("reason", "") if reveal else "",
            )
        except Thread.DoesNotExist as exc:
            raise Http404("No such conversation.") from exc
        context = {
            "title": f"Conversation {thread} of {company.slug}",
            "company": company,
            "messages_rows": rows,
            "revealed": reveal,
            "form": form,
        }
        status = 400 if request.method == "POST" and not reveal else 200
        return self._page(request, "admin/tenants/company/thread.html", context, status)

    def templates_review_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            return self._template_decide(request)
        rows = operator.template_pending_list()
        context = {"title": "Templates waiting for review", "templates": rows, "form": RejectionForm()}
        return self._page(request, "admin/tenants/company/templates_review.html", context)

    def _template_decide(self, request: HttpRequest) -> HttpResponse:
        back = HttpResponseRedirect(reverse("admin:tenants_company_templates_review"))
        company = self.get_queryset(request).filter(pk=request.POST.get("company") or 0).first()
        if company is None:
            self.message_user(request, "Unknown company.", messages.ERROR)
            return back
        approve = request.POST.get("decision") == "approve"
        name, language = request.POST.get("name", ""), request.POST.get("language", "")
        try:
            operator.template_review_decide(
                company=company,
                name=name,
                language=language,
                approve=approve,
                reason=request.POST.get("reason", ""),
                actor=request.user,  # type: ignore[arg-type]
            )
        except operator.OperatorActionError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        except ValidationError as exc:
            text = " ".join(exc.messages)
            self.message_user(request, f"The template {name} ({language}) of {company.slug}: {text}", messages.ERROR)
        else:
            verb = "Approved" if approve else "Rejected"
            self.message_user(request, f"{verb} the template {name} ({language}) of {company.slug}.", messages.SUCCESS)
        return back

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Domain edits on the company page are operator actions too: audited."""
        before = sorted(Domain.objects.filter(tenant=form.instance).values_list("domain", flat=True))
        super().save_formset(request, form, formset, change)
        after = sorted(Domain.objects.filter(tenant=form.instance).values_list("domain", flat=True))
        if before != after:
            services.audit_record(
                actor=request.user,  # type: ignore[arg-type]
                action="company.domains",
                company=form.instance,
                target=form.instance.slug or "",
                before={"domains": before},
                after={"domains": after},
            )


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "tenant", "is_primary"]
    list_filter = ["is_primary"]
    search_fields = ["domain", "tenant__slug", "tenant__name"]
    list_select_related = ["tenant"]
    autocomplete_fields = ["tenant"]

    def save_model(self, request: HttpRequest, obj: Domain, form: Any, change: bool) -> None:
        before = None
        if change:
            old = Domain.objects.filter(pk=obj.pk).values("domain", "tenant_id", "is_primary").first()
            before = dict(old) if old else None
        super().save_model(request, obj, form, change)
        services.audit_record(
            actor=request.user,  # type: ignore[arg-type]
            action="domain.change" if change else "domain.add",
            company=obj.tenant,
            target=obj.domain,
            before=before,
            after={"domain": obj.domain, "tenant_id": obj.tenant_id, "is_primary": obj.is_primary},
        )

    def delete_model(self, request: HttpRequest, obj: Domain) -> None:
        services.audit_record(
            actor=request.user,  # type: ignore[arg-type]
            action="domain.delete",
            company=obj.tenant,
            target=obj.domain,
            before={"domain": obj.domain, "tenant_id": obj.tenant_id, "is_primary": obj.is_primary},
            after=None,
        )
        super().delete_model(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Domain | None = None) -> bool:
        # Bulk deletion would skip delete_model and with it the audit row.
        return obj is not None and super().has_delete_permission(request, obj)


@admin.register(BusinessProfile)
class BusinessProfileAdmin(admin.ModelAdmin):
    """Read-only: verification is decided with the company's buttons (audited)."""

    list_display = ["company", "state", "display_name", "verified_display_name", "submitted_at", "decided_by_label"]
    list_filter = ["state", "verify_links_enabled"]
    search_fields = ["company__slug", "legal_name", "display_name", "registration_number"]
    list_select_related = ["company"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: BusinessProfile | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: BusinessProfile | None = None) -> bool:
        return False


@admin.register(OperatorAction)
class OperatorActionAdmin(admin.ModelAdmin):
    """The audit log: read-only, append-only."""

    list_display = ["created_at", "actor_label", "action", "company", "target"]
    list_filter = ["action"]
    search_fields = ["actor_label", "action", "company__slug", "target"]
    list_select_related = ["company"]
    readonly_fields = ["created_at", "actor_label", "actor", "action", "company", "target", "before", "after"]
    fields = readonly_fields
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OperatorAction | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OperatorAction | None = None) -> bool:
        return False
