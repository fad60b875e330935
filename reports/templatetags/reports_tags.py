"""Template filters of the report pages."""

from __future__ import annotations

from django import template
from django.utils.formats import number_format
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration_text(seconds: float | None) -> str:
    """Seconds as a short human duration: 45 s, 12 min, 3.5 h, 2.1 d."""
    if seconds is None:
        return "\N{EN DASH}"
    if seconds < 60:
        return _("%(n)s s") % {"n": round(seconds)}
    if seconds < 3600:
        return _("%(n)s min") % {"n": round(seconds / 60)}
    if seconds < 86400:
        return _("%(n)s h") % {"n": number_format(seconds / 3600, 1)}
    return _("%(n)s d") % {"n": number_format(seconds / 86400, 1)}
