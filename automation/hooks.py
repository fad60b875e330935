"""The inbox's one call into automation (from inbox.services.messages)."""

from __future__ import annotations

from inbox.models import Message


def inbound_recorded(*, message: Message) -> None:
    """A new inbound message was stored: run the rules after its transaction commits.

    Nothing is enqueued while every inbound rule is off (one primary-key read).
    """
    from automation import services, tasks

    if services.inbound_automation_wanted():
        tasks.automation_inbound_task.delay_on_commit(message.pk)
