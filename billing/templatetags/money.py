"""Money in the viewer's locale: 1,234.50 in English, 1.234,50 in German (docs/i18n.md)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import template
from django.utils import formats

register = template.Library()


@register.filter
def money(value: object) -> str:
    """A Decimal or a decimal string (the API's money form) with the locale's separators.

    Selectors hand amounts over as strings with their exact decimals ("0.7620"); the
    filter keeps those decimals and only changes the separators, so no cent is rounded
    away on the way to the page. Anything that is not a number is shown as it is.
    """
    if value is None or value == "":
        return ""
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return formats.number_format(number, use_l10n=True, force_grouping=True)
