"""Settings → Numbers → Click-to-chat: a number's wa.me link and QR code (SVG, PNG).

Owners and admins, like the numbers page. The rules (digits, encoding, length) live in
inbox/services/clicktochat.py.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from accounts.views import team_manager_required
from inbox import selectors
from inbox.models import PhoneNumber
from inbox.services import clicktochat


class ClickToChatForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Prefilled message (optional)"),
        required=False,
        max_length=clicktochat.TEXT_MAX,
        help_text=gettext_lazy("What the customer's message box already says, e.g. “I would like to order”."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


def _number(request: HttpRequest, public_id: str) -> PhoneNumber:
    return selectors.phone_number_get_connected(company=request.company, public_id=public_id)  # type: ignore[attr-defined]


def _text(request: HttpRequest) -> str:
    form = ClickToChatForm(request.GET)
    return form.cleaned_data["text"].strip() if form.is_valid() else ""


@require_GET
@team_manager_required
def settings_number_click_to_chat(request: HttpRequest, public_id: str) -> HttpResponse:
    number = _number(request, public_id)
    form = ClickToChatForm(request.GET or None)
    text = ""
    status = 200
    if form.is_bound:
        if form.is_valid():
            text = form.cleaned_data["text"].strip()
        else:
            status = 400
    query = f"?{urlencode({'text': text})}" if text else ""
    context = {
        "number": number,
        "form": form,
        "url": clicktochat.clicktochat_url(phone_number=number, text=text),
        "query": query,
        "section": "numbers",
    }
    return render(request, "inbox/settings_click_to_chat.html", context, status=status)


def _download(body: bytes, content_type: str, filename: str, request: HttpRequest) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


def _qr(request: HttpRequest, public_id: str, *, kind: str) -> HttpResponse:
    """The number's QR code as `kind` (svg or png); a bad prefilled text is 400."""
    number = _number(request, public_id)
    draw, content_type = QR_FORMATS[kind]
    try:
        body = draw(phone_number=number, text=_text(request))
    except ValidationError:
        return HttpResponse(status=400)
    return _download(body, content_type, f"whatsapp-qr.{kind}", request)


QR_FORMATS = {
    "svg": (clicktochat.clicktochat_qr_svg, "image/svg+xml"),
    "png": (clicktochat.clicktochat_qr_png, "image/png"),
}


@require_GET
@team_manager_required
def settings_number_qr_svg(request: HttpRequest, public_id: str) -> HttpResponse:
    return _qr(request, public_id, kind="svg")


@require_GET
@team_manager_required
def settings_number_qr_png(request: HttpRequest, public_id: str) -> HttpResponse:
    return _qr(request, public_id, kind="png")
