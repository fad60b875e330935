"""Settings → Numbers: owners and admins connect and disconnect the company's numbers.

Same services as the API and the `connect_number` command; agents get the readable 403.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.views import team_manager_required
from billing.errors import PlanLimitExceeded
from inbox import selectors
from inbox.services import numbers


class NumberConnectForm(forms.Form):
    phone_number_id = forms.CharField(
        label=_("Phone number ID"),
        max_length=64,
        help_text=_("The provider's id of the number (letters, digits, . _ -)."),
    )
    display_number = forms.CharField(label=_("Display number"), max_length=32, help_text=_("E.164, e.g. +4930123456."))
    access_token = forms.CharField(
        label=_("Access token"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Used to send through the provider. Stored, never shown again."),
    )


def _page(request: HttpRequest, form: NumberConnectForm, *, status: int = 200) -> HttpResponse:
    context = {
        "numbers": selectors.phone_number_list_connected(company=request.company),  # type: ignore[attr-defined]
        "form": form,
        "section": "numbers",
    }
    return render(request, "inbox/settings_numbers.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
@team_manager_required
def settings_numbers(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request, NumberConnectForm())
    form = NumberConnectForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    try:
        number = numbers.phone_number_connect(
            company=request.company,  # type: ignore[attr-defined]
            phone_number_id=form.cleaned_data["phone_number_id"],
            display_number=form.cleaned_data["display_number"],
            access_token=form.cleaned_data["access_token"],
        )
    except ValidationError as exc:
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return _page(request, form, status=400)
    except PlanLimitExceeded as exc:
        form.add_error(None, exc.message)
        return _page(request, form, status=402)
    messages.success(request, _("Connected %(number)s.") % {"number": number.display_number})
    return redirect("settings_numbers")


@require_POST
@team_manager_required
def settings_number_disconnect(request: HttpRequest, public_id: str) -> HttpResponse:
    company = request.company  # type: ignore[attr-defined]
    number = selectors.phone_number_get_connected(company=company, public_id=public_id)
    numbers.phone_number_disconnect(company=company, phone_number=number)
    messages.success(
        request, _("Disconnected %(number)s. Its conversations stay in the inbox.") % {"number": number.display_number}
    )
    return redirect("settings_numbers")
