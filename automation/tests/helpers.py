"""Helpers of the automation tests: settings through the real services, inbound messages."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.utils import timezone

from automation import services
from automation.services import IntervalInput
from inbox.models import Contact, Message, Thread
from inbox.tests.factories import MessageFactory, ThreadFactory

GREETING = "Hi! Thanks for writing to Acme Pizza."
AWAY = "We are closed right now and answer from 09:00."


def settings_set(**changes: Any) -> None:
    """The automation settings with everything off except `changes`."""
    values: dict[str, Any] = {
        "greeting_enabled": False,
        "greeting_text": GREETING,
        "greeting_cooldown_hours": 24,
        "away_enabled": False,
        "away_text": AWAY,
        "away_cooldown_hours": 24,
        "auto_assign_enabled": False,
        "auto_resolve_idle_hours": None,
    }
    values.update(changes)
    services.automation_settings_update(**values)


def weekdays_nine_to_five(zone: str = "UTC") -> None:
    services.business_hours_set(
        time_zone=zone, intervals=[IntervalInput(day, time(9), time(17)) for day in range(5)], holidays=[]
    )


def inbound(
    *, thread: Thread | None = None, contact: Contact | None = None, at: datetime | None = None, text: str = "Hello"
) -> Message:
    """An inbound message written at `at` on a thread whose window is open (now)."""
    if thread is None:
        thread = ThreadFactory(contact=contact, window_open=True) if contact else ThreadFactory(window_open=True)
    elif thread.last_inbound_at is None:
        Thread.objects.filter(pk=thread.pk).update(last_inbound_at=timezone.now())
    return MessageFactory(thread=thread, text=text, provider_timestamp=at or timezone.now())


def auto_replies(thread: Thread) -> list[tuple[str, str]]:
    """The automatic messages queued on `thread`: (kind, text), oldest first."""
    rows = Message.objects.filter(thread=thread, direction=Message.Direction.OUTBOUND).order_by("id")
    return [(m.payload.get("auto_reply", ""), m.text) for m in rows]
