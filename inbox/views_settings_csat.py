"""Settings → Satisfaction: turn the 1-5 rating request on resolve on or off (owners and admins)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.views import team_manager_required
from inbox.services import csat


class CsatSettingsForm(forms.Form):
    csat_enabled = forms.BooleanField(
        label=gettext_lazy("Ask customers for a rating when a thread is resolved"),
        required=False,
        help_text=gettext_lazy(
            "The customer gets a list to rate your help from 1 to 5 — only while the 24-hour window is open, "
            "once per resolve."
        ),
    )


@never_cache
@require_http_methods(["GET", "POST"])
@team_manager_required
def settings_csat(request: HttpRequest) -> HttpResponse:
    company = request.company  # type: ignore[attr-defined]
    if request.method == "POST":
        form = CsatSettingsForm(request.POST)
        if form.is_valid():
            csat.csat_settings_update(company=company, csat_enabled=form.cleaned_data["csat_enabled"])
            messages.success(
                request,
                _("Satisfaction survey on.") if form.cleaned_data["csat_enabled"] else _("Satisfaction survey off."),
            )
            return redirect("settings_csat")
    else:
        form = CsatSettingsForm(initial={"csat_enabled": company.csat_enabled})
    return render(request, "inbox/settings_csat.html", {"form": form, "section": "csat"})
