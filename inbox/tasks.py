"""Thin Celery entry points of the inbox (tenant-schemas-celery carries the schema)."""

from __future__ import annotations

import random
from typing import Any

from celery import Task, shared_task

from inbox.api import idempotency
from inbox.services import broadcasts, media, messages, threads, webhooks

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


@shared_task(ignore_result=True)
def message_status_retry_task(payload: dict[str, Any], attempt: int) -> None:
    """A delivery report that overtook the record of its send, tried again."""
    messages.message_status_retry(payload=payload, attempt=attempt)


@shared_task(bind=True, ignore_result=True, max_retries=MEDIA_MAX_RETRIES)
def media_fetch_task(self: Task, message_id: int) -> None:
    """Downloads a received message's media into storage."""
    try:
        media.media_fetch(message_id=message_id, final_attempt=self.request.retries >= MEDIA_MAX_RETRIES)
    except media.MediaRetryError as exc:
        raise self.retry(exc=exc, countdown=retry_countdown(self.request.retries)) from exc


@shared_task(ignore_result=True)
def media_uploads_purge_task() -> None:
    """Per company (fanned out hourly by beat): deletes media uploads (`POST /uploads/`) older
    than MEDIA_UPLOAD_RETENTION_HOURS with their files; sent messages keep their own copies."""
    from inbox.services import media_uploads  # here: it imports the messages service, which imports this module

    media_uploads.media_uploads_purge()


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


# --- broadcasts ----------------------------------------------------------------------------
# Chunk tasks carry only an id range; the Delivery rows decide what is sent (claims with a
# lease), so a duplicate, late or lost task is harmless and the sweeper heals a lost one.

# Longest wait before a range's retries are looked at again (well below the visibility timeout).
BROADCAST_RETRY_COUNTDOWN_MAX = 300.0


@shared_task(ignore_result=True)
def broadcast_start_task(broadcast_id: int) -> None:
    """Snapshots and starts a broadcast (for callers that must not wait for a large snapshot)."""
    broadcast = broadcasts.Broadcast.objects.filter(pk=broadcast_id).first()
    if broadcast is not None:
        broadcasts.broadcast_start(broadcast=broadcast)


@shared_task(ignore_result=True)
def broadcast_dispatch_task(broadcast_id: int, chunks: int) -> None:
    """Hands the next `chunks` id ranges of a running broadcast to chunk tasks."""
    broadcasts.broadcast_dispatch(broadcast_id=broadcast_id, chunks=chunks)


@shared_task(ignore_result=True)
def broadcast_chunk_send_task(broadcast_id: int, lo: int, hi: int, chain: bool = True) -> None:
    """Sends the due recipients of one id range; `chain` hands the next range on afterwards."""
    report = broadcasts.broadcast_chunk_send(broadcast_id=broadcast_id, lo=lo, hi=hi)
    if chain:
        broadcasts.broadcast_dispatch(broadcast_id=broadcast_id, chunks=1)
    if report.retry_in is not None:
        countdown = min(BROADCAST_RETRY_COUNTDOWN_MAX, max(0.2, report.retry_in))
        broadcast_chunk_send_task.apply_async((broadcast_id, lo, hi, False), countdown=countdown)


@shared_task(ignore_result=True)
def broadcast_sweep_task() -> None:
    """Per company (fanned out by beat): expired leases, quiet broadcasts, due schedules."""
    broadcasts.broadcast_sweep()


# --- send later ------------------------------------------------------------------------------


@shared_task(ignore_result=True)
def scheduled_messages_send_task() -> None:
    """Per company (fanned out by beat, queue `broadcasts`): claims and sends due scheduled
    replies. The claim is a conditional UPDATE, so overlapping scans send each one once."""
    from inbox.services import scheduled  # here: scheduled imports this module

    scheduled.scheduled_messages_send_due()


# --- privacy (GDPR retention) ---------------------------------------------------------------


@shared_task(ignore_result=True)
def retention_purge_task() -> None:
    """Per company (fanned out nightly by beat): purges message bodies and media of resolved
    threads older than the company's retention period (off unless the company set one)."""
    from django.db import connection

    from inbox.services import privacy  # here: privacy imports models only, kept lazy like scheduled
    from tenants.models import Company

    # Read afresh: the setting may have changed since the worker last saw this company.
    privacy.retention_purge(company=Company.objects.get(schema_name=connection.schema_name))
