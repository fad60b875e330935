"""The 24-hour customer-service window (whatsapp-platform.md §3.1)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from inbox.models import Thread

WINDOW = timedelta(hours=24)
# A reply queued just before the window closes must still reach the provider in time
# (whatsapp-platform.md §3.1: one project used 2 minutes).
WINDOW_SAFETY_MARGIN = timedelta(minutes=2)


def window_expires_at(thread: Thread) -> datetime | None:
    """When the window closes; None when the customer never wrote."""
    if thread.last_inbound_at is None:
        return None
    return thread.last_inbound_at + WINDOW


def window_is_open(thread: Thread, *, at: datetime | None = None) -> bool:
    """True while a free-form message may still be sent (with the safety margin)."""
    expires = window_expires_at(thread)
    if expires is None:
        return False
    return (at or timezone.now()) < expires - WINDOW_SAFETY_MARGIN
