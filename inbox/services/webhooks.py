"""Outgoing webhooks: subscriptions, signed deliveries, retries (design/API.md).

How an attempt happens, once:
1. It is *claimed*: the event's `attempts` goes up by one and `next_retry_at` moves a
   lease ahead in one conditional UPDATE (or a row lock, for a replay), and a
   WebhookDelivery row for that attempt number is written in the same transaction; the
   send task is enqueued after commit.
2. The task *starts* the row with a conditional UPDATE (`started_at` was empty), so a
   task message delivered twice sends once.
3. The POST runs outside any transaction; the answer is recorded in a short one, which
   schedules the next retry or gives up.

Retries never rely on Celery countdowns (they would outlive the broker's visibility
timeout): a beat task (`webhook_events_dispatch`) claims due events every 30 s. A lost
task message or a killed worker leaves the event due again once the lease expires.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import tenant_context

from inbox import ssrf, tasks, webhook_selectors
from inbox.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from inbox.representations import iso
from tenants.models import Company

logger = logging.getLogger(__name__)

EVENT_TYPES: tuple[str, ...] = tuple(WebhookSubscription.Event.values)
USER_AGENT = "Kontakt-Webhooks/1.0"
TIMEOUT_SECONDS = 10.0
# Retry schedule (API.md): about 30 s, then 4 times longer per attempt, at most 3 h apart, for at
# least 24 h after the event; each delay is jittered ±20 % so a receiver coming back up
# is not hit by every queued event in the same second.
RETRY_FIRST_DELAY = timedelta(seconds=30)
RETRY_FACTOR = 4
RETRY_MAX_DELAY = timedelta(hours=3)
RETRY_JITTER = 0.2
RETRY_FOR = timedelta(hours=24)
# A claimed attempt is someone's for this long; after that the event is due again.
ATTEMPT_LEASE = timedelta(minutes=5)
# A worker only starts an attempt claimed less than this long ago, so the send (at most
# a few timeouts of 10 s; the task's hard time limit is 2 min) ends inside the lease and
# never overlaps a re-claim.
ATTEMPT_START_DEADLINE = timedelta(minutes=2)
# Addresses of one host tried in turn when a connection cannot be made.
MAX_ADDRESSES_TRIED = 3
SECRET_OVERLAP = timedelta(hours=24)
DISPATCH_BATCH = 200
ENVELOPE_KEYS = ("id", "type", "created_at", "company", "data")

UNKNOWN_EVENTS = _("Unknown event type(s): {unknown}. Choose from: {known}.")
EVENTS_REQUIRED = _("Choose at least one event.")
# Stored on the attempt row (written by workers), so kept in one language.
INTERRUPTED = "Interrupted: no answer was recorded before the attempt's lease ran out."
TIMED_OUT = "Timed out: no answer within 10 s."
REDIRECT_REFUSED = "Redirects are not followed (answer {status})."


class WebhooksNotInPlanError(Exception):
    """The company's plan has no outgoing webhooks (API: 402 `plan_limit_exceeded`)."""

    limit = "outgoing_webhooks"
    message = _("Outgoing webhooks are not part of your plan. Upgrade to Enterprise to use them.")

    def __init__(self, *, used: int, allowed: int = 0) -> None:
        super().__init__(self.message)
        self.used = used
        self.allowed = allowed


# --- subscriptions -------------------------------------------------------------------------


def _secret_new() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _events_clean(events: list[str]) -> list[str]:
    unknown = sorted({str(name) for name in events} - set(EVENT_TYPES))
    if unknown:
        message = UNKNOWN_EVENTS.format(unknown=", ".join(unknown), known=", ".join(EVENT_TYPES))
        raise ValidationError({"events": [message]})
    if not events:
        raise ValidationError({"events": [EVENTS_REQUIRED]})
    # Known order, no duplicates.
    return [name for name in EVENT_TYPES if name in events]


def _url_check(url: str) -> None:
    """SSRF check (resolves the host: network I/O, so call it before opening a transaction)."""
    try:
        ssrf.url_check(url)
    except ssrf.UnsafeUrlError as exc:
        raise ValidationError({"url": [str(exc)]}) from exc


def webhook_subscription_create(*, url: str, events: list[str]) -> WebhookSubscription:
    """A new active subscription with a fresh secret; WebhooksNotInPlanError on a plan without webhooks."""
    company = webhook_selectors.company_current()
    if not webhook_selectors.company_webhooks_allowed(company):
        raise WebhooksNotInPlanError(used=webhook_selectors.webhook_subscription_list().count())
    subscription = WebhookSubscription(url=url.strip(), events=_events_clean(events), secret=_secret_new())
    subscription.full_clean()
    _url_check(subscription.url)
    subscription.save()
    return subscription


def webhook_subscription_update(
    *,
    subscription: WebhookSubscription,
    url: str | None = None,
    events: list[str] | None = None,
    is_active: bool | None = None,
) -> WebhookSubscription:
    """Changes what is given (None leaves a field alone); a new URL is checked like at creation."""
    fields = ["updated_at"]
    if url is not None and url.strip() != subscription.url:
        subscription.url = url.strip()
        fields.append("url")
    if events is not None:
        subscription.events = _events_clean(events)
        fields.append("events")
    if is_active is not None:
        subscription.is_active = is_active
        fields.append("is_active")
    subscription.full_clean()
    if "url" in fields:
        _url_check(subscription.url)
    subscription.save(update_fields=fields)
    return subscription


def webhook_subscription_delete(*, subscription: WebhookSubscription) -> None:
    """Removes the subscription with its pending events and attempt history."""
    subscription.delete()


@transaction.atomic
def webhook_subscription_rotate_secret(*, subscription: WebhookSubscription) -> WebhookSubscription:
    """A new secret; the current one keeps signing (as a second `v1=`) for SECRET_OVERLAP.

    Rotating again within the overlap retires the oldest secret at once: at most two sign.
    """
    now = timezone.now()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_expires_at = now + SECRET_OVERLAP
    subscription.secret = _secret_new()
    subscription.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return subscription


# --- events and attempts -----------------------------------------------------------------------


def webhook_events_record(*, company: Company, event_type: str, data: dict[str, Any]) -> list[WebhookEvent]:
    """One event per active subscription listening to `event_type`, each with its first attempt
    claimed and enqueued after commit. Runs inside the caller's transaction."""
    subscriptions = list(
        WebhookSubscription.objects.filter(is_active=True, events__contains=[event_type]).only("pk").order_by("pk")
    )
    if not subscriptions:
        return []
    now = timezone.now()
    events = []
    for subscription in subscriptions:
        event = WebhookEvent(
            subscription=subscription,
            event_type=event_type,
            attempts=1,
            next_retry_at=now + ATTEMPT_LEASE,
            created_at=now,
        )
        event.payload = {
            "id": str(event.public_id),
            "type": event_type,
            "created_at": iso(now),
            "company": company.slug,
            "data": data,
        }
        events.append(event)
    WebhookEvent.objects.bulk_create(events)
    deliveries = WebhookDelivery.objects.bulk_create([WebhookDelivery(event=event, attempt=1) for event in events])
    for delivery in deliveries:
        tasks.webhook_delivery_send_task.delay_on_commit(delivery.pk)
    return events


@transaction.atomic
def webhook_event_claim(*, event_id: int, attempts_seen: int, now: datetime) -> WebhookDelivery | None:
    """Claims the next scheduled attempt of a due event; None when it is not due any more
    (another worker claimed it, it was delivered, replayed or given up)."""
    # The conditions name only this table's columns: PostgreSQL re-checks them against
    # the row a concurrent claim just wrote, so exactly one of two claims wins.
    claimed = WebhookEvent.objects.filter(
        pk=event_id,
        attempts=attempts_seen,
        delivered_at__isnull=True,
        gave_up_at__isnull=True,
        next_retry_at__lte=now,
    ).update(attempts=attempts_seen + 1, next_retry_at=now + ATTEMPT_LEASE)
    if not claimed:
        return None
    # Earlier attempts still open now lost their worker or their task message.
    WebhookDelivery.objects.filter(event_id=event_id, duration_ms__isnull=True, error="").update(error=INTERRUPTED)
    delivery = WebhookDelivery.objects.create(event_id=event_id, attempt=attempts_seen + 1)
    tasks.webhook_delivery_send_task.delay_on_commit(delivery.pk)
    return delivery


def webhook_events_due_claim(*, now: datetime | None = None, limit: int = DISPATCH_BATCH) -> int:
    """In the current schema: claims up to `limit` due events and enqueues their attempts.

    Returns how many were claimed. Each claim is its own short transaction.
    """
    now = now or timezone.now()
    claimed = 0
    for event_id, attempts in webhook_selectors.webhook_event_list_due(now=now, limit=limit):
        if webhook_event_claim(event_id=event_id, attempts_seen=attempts, now=now) is not None:
            claimed += 1
    return claimed


def webhook_events_dispatch() -> int:
    """Beat, every 30 s: claims due events in every company with webhooks (public schema in).

    A failing company is logged and skipped; the others still get their retries.
    """
    claimed = 0
    for company in webhook_selectors.company_list_with_webhooks():
        try:
            with tenant_context(company):
                claimed += webhook_events_due_claim()
        except Exception:
            logger.exception("Webhook dispatch failed for company %s", company.schema_name)
    return claimed


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Sends the delivery's event again now, as a new attempt (also after success or giving up).

    A replay of a pending event takes over its schedule; of a finished one, it is a single
    attempt that schedules no retries.
    """
    event = WebhookEvent.objects.select_for_update().get(pk=delivery.event_id)
    now = timezone.now()
    event.attempts += 1
    fields = ["attempts"]
    if event.delivered_at is None and event.gave_up_at is None:
        event.next_retry_at = now + ATTEMPT_LEASE
        fields.append("next_retry_at")
    event.save(update_fields=fields)
    replay = WebhookDelivery.objects.create(event=event, attempt=event.attempts)
    tasks.webhook_delivery_send_task.delay_on_commit(replay.pk)
    return replay


def retry_delay(*, attempt: int) -> timedelta:
    """How long after failed attempt number `attempt` (1-based) the next one starts."""
    base = RETRY_FIRST_DELAY.total_seconds() * RETRY_FACTOR ** min(attempt - 1, 20)
    jittered = base * random.uniform(1 - RETRY_JITTER, 1 + RETRY_JITTER)  # noqa: S311  # jitter, not a secret
    return min(timedelta(seconds=jittered), RETRY_MAX_DELAY)


# --- the HTTP request --------------------------------------------------------------------------


def webhook_body(payload: dict[str, Any]) -> bytes:
    """The exact bytes POSTed and signed: the envelope in the documented key order, UTF-8."""
    envelope = {key: payload[key] for key in ENVELOPE_KEYS}
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature_header(*, body: bytes, secrets: list[str], timestamp: int) -> str:
    """`t=<unix>,v1=<hex>[,v1=<hex>]`: HMAC-SHA256 of `"<t>.<body>"` under each secret."""
    signed = f"{timestamp}.".encode() + body
    signatures = [hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest() for secret in secrets]
    return ",".join([f"t={timestamp}", *(f"v1={signature}" for signature in signatures)])


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str
    duration_ms: int

    @property
    def is_success(self) -> bool:
        return not self.error and self.status_code is not None and 200 <= self.status_code < 300


def _post_pinned(target: ssrf.PinnedTarget, body: bytes, headers: dict[str, str]) -> int:
    """POSTs to one of the checked addresses (never resolving the name again); the status.

    The body of the answer is not read: nothing in it matters, and it could be huge.
    """
    extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
    error: httpx.ConnectError | None = None
    with httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False, trust_env=False) as client:
        for address in target.addresses[:MAX_ADDRESSES_TRIED]:
            request = client.build_request(
                "POST",
                target.url_for(address),
                content=body,
                headers={**headers, "Host": target.host_header},
                extensions=extensions,
            )
            try:
                response = client.send(request, stream=True)
            except httpx.ConnectError as exc:
                error = exc
                continue
            response.close()
            return response.status_code
    raise error or httpx.ConnectError("No address to connect to.")


def _post(*, event: WebhookEvent, subscription: WebhookSubscription) -> Answer:
    body = webhook_body(event.payload)
    sent_at = timezone.now()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Kontakt-Event-Id": str(event.public_id),
        "Kontakt-Signature": signature_header(
            body=body, secrets=subscription.signing_secrets(now=sent_at), timestamp=int(sent_at.timestamp())
        ),
    }
    started = time.monotonic()
    status_code: int | None = None
    error = ""
    try:
        # Checked again now: DNS may point elsewhere than when the URL was saved.
        target = ssrf.url_check(subscription.url)
        status_code = _post_pinned(target, body, headers)
    except ssrf.UnsafeUrlError as exc:
        error = f"Refused: {exc}"
    except httpx.TimeoutException:
        error = TIMED_OUT
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    duration = time.monotonic() - started
    if status_code is not None and 300 <= status_code < 400:
        error = REDIRECT_REFUSED.format(status=status_code)
    elif status_code is not None and duration > TIMEOUT_SECONDS:
        # Each phase has its own 10 s; a slow trickle can exceed 10 s overall.
        error = TIMED_OUT
    return Answer(status_code=status_code, error=error[:255], duration_ms=round(duration * 1000))


@transaction.atomic
def _delivery_finish(*, delivery: WebhookDelivery, answer: Answer) -> WebhookDelivery | None:
    """Records the answer and moves the event's schedule (the latest attempt owns it)."""
    event = WebhookEvent.objects.select_for_update().filter(pk=delivery.event_id).first()
    if event is None:
        return None  # the subscription was deleted meanwhile
    now = timezone.now()
    delivery.next_retry_at = None
    if answer.is_success:
        event.delivered_at = event.delivered_at or now
        event.next_retry_at = None
    elif event.attempts == delivery.attempt and event.delivered_at is None and event.gave_up_at is None:
        if now - event.created_at >= RETRY_FOR:
            event.gave_up_at = now
            event.next_retry_at = None
        else:
            event.next_retry_at = delivery.next_retry_at = now + retry_delay(attempt=delivery.attempt)
    event.save(update_fields=["delivered_at", "next_retry_at", "gave_up_at"])
    delivery.status_code = answer.status_code
    delivery.error = answer.error
    delivery.duration_ms = answer.duration_ms
    delivery.save(update_fields=["status_code", "error", "duration_ms", "next_retry_at"])
    return delivery


def webhook_delivery_send(*, delivery_id: int) -> WebhookDelivery | None:
    """Sends one claimed attempt and records the answer; None if it was already started,
    was given up as interrupted, or was claimed too long ago to start safely.

    Precondition: no open transaction (the POST must not hold one open for up to 10 s).
    """
    now = timezone.now()
    started = WebhookDelivery.objects.filter(
        pk=delivery_id, started_at__isnull=True, error="", created_at__gte=now - ATTEMPT_START_DEADLINE
    ).update(started_at=now)
    if not started:
        return None
    delivery = WebhookDelivery.objects.select_related("event__subscription").filter(pk=delivery_id).first()
    if delivery is None:
        return None
    answer = _post(event=delivery.event, subscription=delivery.event.subscription)
    return _delivery_finish(delivery=delivery, answer=answer)
