"""Phone numbers: everything is stored as E.164 (`+4915112345678`)."""

from __future__ import annotations

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

PHONE_INVALID = _("Enter a phone number in international format, e.g. +4915112345678.")


def phone_normalize(raw: str) -> str:
    """E.164 for a number given with its country code in any common notation.

    Without a leading `+` (or `00`) a number is read as already carrying its country code,
    the way WhatsApp ids are written; there is no "default country" guess, which would
    reach the wrong person (whatsapp-platform.md §2.2).
    """
    text = (raw or "").strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    elif text and not text.startswith("+"):
        text = "+" + text
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError({"phone": [PHONE_INVALID]}) from exc
    if not phonenumbers.is_possible_number(parsed) or not phonenumbers.is_valid_number(parsed):
        raise ValidationError({"phone": [PHONE_INVALID]})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_from_wa_id(wa_id: str) -> str:
    """The E.164 form of a WhatsApp id (digits with country code); falls back to '+digits'."""
    digits = "".join(ch for ch in wa_id if ch.isdigit())
    try:
        return phone_normalize("+" + digits)
    except ValidationError:
        return "+" + digits
