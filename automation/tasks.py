"""Celery entry points of automation (tenant-schemas-celery carries the schema)."""

from __future__ import annotations

from celery import shared_task

from automation import services


@shared_task(ignore_result=True)
def automation_inbound_task(message_id: int) -> None:
    """After an inbound message committed: assignment, greeting, away (idempotent per message)."""
    services.inbound_automation_run(message_id=message_id)


@shared_task(ignore_result=True)
def automation_assign_waiting_task() -> None:
    """Per company (beat fan-out, and when an agent becomes available): waiting threads."""
    services.threads_assign_waiting()


@shared_task(ignore_result=True)
def automation_auto_resolve_task() -> None:
    """Per company (beat fan-out): resolves threads idle for the configured time."""
    services.threads_auto_resolve()
