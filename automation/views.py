"""Settings → Automation (owners and admins) and the agents' own availability switch."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from accounts.views import team_manager_required
from automation import selectors, services
from automation.forms import WEEKDAY_FIELDS, AgentAutomationForm, AutomationForm, BusinessHoursForm


def _automation_initial() -> dict[str, Any]:
    config = selectors.automation_settings_get()
    return {
        "greeting_enabled": config.greeting_enabled,
        "greeting_text": config.greeting_text,
        "greeting_cooldown_hours": config.greeting_cooldown_hours,
        "away_enabled": config.away_enabled,
        "away_text": config.away_text,
        "away_cooldown_hours": config.away_cooldown_hours,
        "auto_assign_enabled": config.auto_assign_enabled,
        "auto_resolve_idle_hours": config.auto_resolve_idle_hours,
    }


def _hours_initial() -> dict[str, Any]:
    return BusinessHoursForm.initial_from(
        time_zone=selectors.automation_settings_get().time_zone,
        intervals=list(selectors.opening_interval_list()),
        holidays=list(selectors.holiday_list()),
    )


def _page(
    request: HttpRequest,
    *,
    form: AutomationForm | None = None,
    hours_form: BusinessHoursForm | None = None,
    status: int = 200,
) -> HttpResponse:
    agents = [(agent, selectors.agent_automation_of(agent)) for agent in selectors.agent_list_with_load()]
    context = {
        "form": form or AutomationForm(initial=_automation_initial()),
        "hours_form": hours_form or BusinessHoursForm(initial=_hours_initial()),
        "agents": agents,
        "open_now": selectors.is_open(at=timezone.now()),
        "section": "automation",
    }
    return render(request, "automation/settings_automation.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@team_manager_required
def settings_automation(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    form = AutomationForm(request.POST)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    try:
        services.automation_settings_update(**form.cleaned_data)
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _page(request, form=form, status=400)
    messages.success(request, _("Automation settings saved."))
    return redirect("settings_automation")


@never_cache
@require_POST
@team_manager_required
def settings_business_hours(request: HttpRequest) -> HttpResponse:
    form = BusinessHoursForm(request.POST)
    if not form.is_valid():
        return _page(request, hours_form=form, status=400)
    intervals = form.intervals()
    try:
        services.business_hours_set(
            time_zone=form.cleaned_data["time_zone"], intervals=intervals, holidays=form.cleaned_data["holidays"]
        )
    except ValidationError as exc:
        for key, errors in exc.message_dict.items():
            parts = key.split(".")
            if parts[0] == "intervals":
                field = WEEKDAY_FIELDS[intervals[int(parts[1])].weekday]
            elif parts[0] in form.fields:
                field = parts[0]
            else:
                field = None
            form.add_error(field, errors)
        return _page(request, hours_form=form, status=400)
    messages.success(request, _("Business hours saved."))
    return redirect("settings_automation")


@require_POST
@team_manager_required
def settings_automation_agent(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    agent = User.objects.filter(public_id=public_id, is_active=True).first()
    if agent is None:
        raise Http404
    form = AgentAutomationForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(str(e) for field in form for e in field.errors)
        messages.error(request, _("%(agent)s was not changed: %(errors)s") % {"agent": agent, "errors": errors})
        return redirect("settings_automation")
    services.agent_automation_update(
        user=agent, auto_assign=form.cleaned_data["auto_assign"], max_open_threads=form.cleaned_data["max_open_threads"]
    )
    messages.success(request, _("Assignment settings of %(agent)s saved.") % {"agent": agent})
    return redirect("settings_automation")


@require_POST
@login_required
def availability_set(request: HttpRequest) -> HttpResponse:
    """Any agent, for themself: available (gets automatic assignments) or away."""
    available = request.POST.get("available") == "1"
    services.agent_availability_set(user=request.user, available=available)  # type: ignore[arg-type]
    if available:
        messages.success(request, _("You are available: new threads can be assigned to you."))
    else:
        messages.success(request, _("You are away: no new threads are assigned to you."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "inbox:thread_list"
    return redirect(target)
