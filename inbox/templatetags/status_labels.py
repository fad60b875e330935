"""Human, translated names for state codes the templates show (docs/i18n.md)."""

from __future__ import annotations

from django import template
from django.utils.translation import gettext_lazy as _

from inbox.models import Broadcast

register = template.Library()

# A broadcast recipient's state (inbox.broadcast_selectors.RECIPIENT_STATUSES).
RECIPIENT_STATUS_LABELS = {
    "queued": _("Queued"),
    "sending": _("Sending"),
    "sent": _("Sent"),
    "delivered": _("Delivered"),
    "read": _("Read"),
    "failed": _("Failed"),
    "skipped": _("Skipped"),
}


@register.filter
def recipient_status_label(code: str) -> str:
    """A recipient state code in words, e.g. delivered → Zugestellt; unknown codes as they are."""
    return str(RECIPIENT_STATUS_LABELS.get(code, code))


@register.filter
def broadcast_status_label(code: str) -> str:
    """A broadcast's status code as its translated display name."""
    try:
        return str(Broadcast.Status(code).label)
    except ValueError:
        return code


# Why a broadcast left a recipient out (BroadcastDelivery.skip_reason).
SKIP_REASON_LABELS = {
    "opted_out": _("opted out"),
    "not_opted_in": _("not opted in"),
    "marketing_opted_out": _("opted out of marketing"),
    "cancelled": _("cancelled"),
    "contact_deleted": _("contact deleted"),
    "erased": _("erased"),
}


@register.filter
def skip_reason_label(code: str | None) -> str:
    """A skip reason code in words; an unknown one with its underscores as spaces."""
    code = code or ""
    return str(SKIP_REASON_LABELS.get(code, code.replace("_", " ")))
