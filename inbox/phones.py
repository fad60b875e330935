"""Phone numbers: everything is stored as E.164 (`+4915112345678`)."""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

PHONE_INVALID = _("Enter a phone number in international format, e.g. +4915112345678.")
# What a number may be written with: digits and the usual separators (any space, dashes,
# brackets, dots, slashes). Letters are refused (libphonenumber would read "+1 800 FLOWERS"
# as digits), and so are extensions ("ext. 12", ";ext=12", "#12").
PHONE_CHARACTERS_RE = re.compile(r"^\+?[0-9\s().\-/\u2010-\u2015\u2212]+$")
# E.164: "+", a non-zero country digit, 7 to 15 digits in all (the same shape as
# `views_broadcasts.E164` and `broadcast_selectors.VALID_PHONE_SQL`).
E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")


def phone_normalize(raw: str) -> str:
    """E.164 for a number given with its country code in any common notation.

    Without a leading `+` (or `00`) a number is read as already carrying its country code,
    the way WhatsApp ids are written; there is no "default country" guess, which would
    reach the wrong person (whatsapp-platform.md §2.2).

    The rule is the contract's, E.164: a known country code and a length possible for that
    country (`is_possible_number`, full numbers only, not local-only ones). Whether the
    number is in an allocated range (`is_valid_number`) is not asked: test numbers such as
    +1 555 123 4567 or the UK's +44 7700 900xxx drama range are used by real testers.
    """
    text = (raw or "").strip()
    if not PHONE_CHARACTERS_RE.match(text):
        raise ValidationError({"phone": [PHONE_INVALID]})
    if text.startswith("00"):
        text = "+" + text[2:]
    elif not text.startswith("+"):
        text = "+" + text
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError({"phone": [PHONE_INVALID]}) from exc
    if phonenumbers.is_possible_number_with_reason(parsed) != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise ValidationError({"phone": [PHONE_INVALID]})
    normalized = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    if not E164_RE.match(normalized):
        raise ValidationError({"phone": [PHONE_INVALID]})
    return normalized


def phone_from_wa_id(wa_id: str) -> str:
    """The E.164 form of a WhatsApp id (digits with country code); falls back to '+digits'."""
    digits = "".join(ch for ch in wa_id if ch.isdigit())
    try:
        return phone_normalize("+" + digits)
    except ValidationError:
        return "+" + digits
