"""Domain events for integrations: what other services call when something changed.

`event_publish` is the one entry point; outgoing webhooks (inbox/services/webhooks.py)
are its only consumer so far.
"""

from __future__ import annotations

from typing import Any

from inbox import webhook_selectors
from inbox.models import WebhookSubscription
from inbox.services import webhooks

EVENT_TYPES: tuple[str, ...] = tuple(WebhookSubscription.Event.values)


def event_publish(*, event_type: str, data: dict[str, Any]) -> None:
    """Records `event_type` with `data` (the API object as a dict) for every active webhook
    subscription of the current company that listens to it; delivery starts after commit.

    Call it inside the transaction that made the change: if that rolls back, nothing is
    sent. Does nothing when the company's plan has no outgoing webhooks.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {event_type!r}; known: {', '.join(EVENT_TYPES)}")
    company = webhook_selectors.company_current()
    if not webhook_selectors.company_webhooks_allowed(company):
        return
    webhooks.webhook_events_record(company=company, event_type=event_type, data=data)
