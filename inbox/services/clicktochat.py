"""Click-to-chat: a `wa.me` link and its QR code for one of the company's numbers.

`https://wa.me/<digits>?text=<prefilled text>` opens a chat with the number in WhatsApp,
the text ready to send (whatsapp-platform.md: the platform's short link / QR code). The
QR code is made by segno (pure Python, SVG and PNG without Pillow), so a pizzeria can
print it on its menu.
"""

from __future__ import annotations

import io
from urllib.parse import quote

import segno
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from inbox.models import PhoneNumber

WA_ME = "https://wa.me/"
# WhatsApp accepts long prefilled texts, but a QR code of a long URL gets too dense to
# scan from a printed menu: a few hundred characters is plenty for "I'd like to order".
TEXT_MAX = 500
PNG_SCALE = 10
SVG_SCALE = 8
QUIET_ZONE = 4


def clicktochat_text_check(text: str | None) -> str:
    """The prefilled text, stripped; ValidationError when it is too long."""
    text = (text or "").strip()
    if len(text) > TEXT_MAX:
        raise ValidationError(
            {"text": [_("The prefilled text can hold at most %(max)d characters.") % {"max": TEXT_MAX}]}
        )
    return text


def clicktochat_url(*, phone_number: PhoneNumber, text: str = "") -> str:
    """The wa.me link: the number's digits only (no +, spaces or dashes), the text URL-encoded."""
    digits = "".join(ch for ch in phone_number.display_number if ch.isdigit())
    url = f"{WA_ME}{digits}"
    text = clicktochat_text_check(text)
    if text:
        url += "?text=" + quote(text, safe="")
    return url


def _qr(url: str) -> segno.QRCode:
    # Error correction "M" (15 %): survives a crease or a stain on a printed menu.
    return segno.make_qr(url, error="m")


def clicktochat_qr_svg(*, phone_number: PhoneNumber, text: str = "") -> bytes:
    """The link's QR code as a standalone SVG document."""
    out = io.BytesIO()
    _qr(clicktochat_url(phone_number=phone_number, text=text)).save(
        out, kind="svg", scale=SVG_SCALE, border=QUIET_ZONE, xmldecl=True, svgns=True, title="WhatsApp"
    )
    return out.getvalue()


def clicktochat_qr_png(*, phone_number: PhoneNumber, text: str = "") -> bytes:
    """The link's QR code as a PNG image."""
    out = io.BytesIO()
    _qr(clicktochat_url(phone_number=phone_number, text=text)).save(out, kind="png", scale=PNG_SCALE, border=QUIET_ZONE)
    return out.getvalue()
