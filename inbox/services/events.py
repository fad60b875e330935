"""Domain events for integrations (outgoing webhooks)."""

from __future__ import annotations

from typing import Any


def event_publish(*, event_type: str, data: dict[str, Any]) -> None:
    """Called by services inside their transaction after a change.

    Placeholder until outgoing webhook delivery lands: publishes nothing.
    """
    return None
