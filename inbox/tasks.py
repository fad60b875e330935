"""Thin Celery entry points of the inbox (tenant-schemas-celery carries the schema)."""

from __future__ import annotations

import random

from celery import Task, shared_task

from inbox.api import idempotency
from inbox.services import media, messages, threads, webhooks

# --- messages and media (provider side) ---------------------------------------------------

# Six attempts in all, about 10 minutes from first to last: long enough for the number's
# throughput or the pair rate limit to recover (4^X s, whatsapp-platform.md §0), short
# enough that a reply does not arrive hours late. Well below the broker's visibility
# timeout (1 h), so a waiting retry is never delivered twice.
DELIVERY_MAX_RETRIES = 5
MEDIA_MAX_RETRIES = 4


def retry_countdown(retries: int, *, base: float = 5.0, cap: float = 600.0) -> float:
    """Exponential backoff (x3 per attempt) with ±25 % jitter."""
    return min(cap, base * 3**retries) * random.uniform(0.75, 1.25)  # noqa: S311 - jitter, not security


@shared_task(bind=True, ignore_result=True, max_retries=DELIVERY_MAX_RETRIES)
def message_deliver_task(self: Task, message_id: int) -> None:
    """Sends a queued outbound message; retries transient provider failures with backoff."""
    try:
        messages.message_deliver(message_id=message_id, final_attempt=self.request.retries >= DELIVERY_MAX_RETRIES)
    except messages.DeliveryRetryError as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc


@shared_task(bind=True, ignore_result=True, max_retries=MEDIA_MAX_RETRIES)
def media_fetch_task(self: Task, message_id: int) -> None:
    """Downloads a received message's media into storage."""
    try:
        media.media_fetch(message_id=message_id, final_attempt=self.request.retries >= MEDIA_MAX_RETRIES)
    except media.MediaRetryError as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc


# --- outgoing webhooks ---------------------------------------------------------------------


@shared_task(ignore_result=True, soft_time_limit=90, time_limit=120)
def webhook_delivery_send_task(delivery_id: int) -> None:
    """Sends one claimed webhook attempt. No Celery retry: a failure schedules the next
    attempt in the database, and beat re-claims an attempt whose worker died."""
    webhooks.webhook_delivery_send(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def webhook_events_dispatch_task() -> None:
    """Beat, every 30 s, in the public schema: claims due webhook events in every company."""
    webhooks.webhook_events_dispatch()


# --- threads ---------------------------------------------------------------------------------


@shared_task(ignore_result=True)
def thread_wake_snoozed_task() -> None:
    """Per company (fanned out by beat): reopens snoozed threads whose time has come."""
    threads.thread_wake_snoozed()


@shared_task(ignore_result=True)
def idempotency_records_purge_task() -> None:
    """Per company (fanned out by beat): drops Idempotency-Key records older than 24 h."""
    idempotency.idempotency_records_purge()
