"""Delivering outgoing webhooks to a real HTTP server on 127.0.0.1: signing, retries, claims.

Company B (charlie, enterprise plan) has the webhooks; tasks run in-process, their
arguments JSON round-tripped.
"""

from __future__ import annotations

import itertools
import json
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from inbox import tasks
from inbox.models import WebhookDelivery, WebhookEvent
from inbox.representations import iso
from inbox.services import events, webhooks
from inbox.tests.factories_webhooks import WebhookEventFactory, WebhookSubscriptionFactory
from inbox.tests.webhook_receiver import (
    FakeDns,
    Receiver,
    Reply,
    signature_verify,
    signatures_in,
    tasks_enqueued,
    tasks_run,
)
from tenants.models import Company

Capture = Callable[..., Any]
SettingsWrapper = Any  # pytest-django's `settings` fixture


@pytest.fixture
def receiver(settings: SettingsWrapper) -> Iterator[Receiver]:
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    with Receiver().running() as running:
        yield running


def _claim_and_send(capture: Capture) -> list[WebhookDelivery]:
    """One beat tick in the current schema, then the enqueued sends; the attempts made."""
    with capture() as callbacks:
        webhooks.webhook_events_due_claim()
    tasks_run(callbacks)
    ids = [args[0] for _, args in tasks_enqueued(callbacks)]
    return list(WebhookDelivery.objects.filter(pk__in=ids).order_by("pk"))


def test_delivers_the_signed_envelope_and_records_the_attempt(
    tenant_b: Company, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    # given charlie's endpoint listens to received messages
    subscription = WebhookSubscriptionFactory(url=receiver.url, events=["message.received"])
    with django_capture_on_commit_callbacks() as callbacks:
        events.event_publish(event_type="message.received", data={"id": "m-1", "text": "Hi"})
    before = int(timezone.now().timestamp())
    # when the enqueued send runs
    tasks_run(callbacks)
    # then the receiver got one POST with the contract's envelope and headers
    [got] = receiver.received
    event = WebhookEvent.objects.get()
    body = json.loads(got.body)
    assert body == {
        "id": str(event.public_id),
        "type": "message.received",
        "created_at": iso(event.created_at),
        "company": "globex",
        "data": {"id": "m-1", "text": "Hi"},
    }
    assert list(body) == ["id", "type", "created_at", "company", "data"]
    assert got.path == "/hooks/kontakt"
    assert got.header("Content-Type") == "application/json"
    assert got.header("User-Agent") == "Kontakt-Webhooks/1.0"
    assert got.header("Kontakt-Event-Id") == str(event.public_id)
    timestamp = int(got.header("Kontakt-Signature").split(",")[0].removeprefix("t="))
    assert before - 5 <= timestamp <= before + 5
    assert len(signatures_in(got.header("Kontakt-Signature"))) == 1
    assert signature_verify(header=got.header("Kontakt-Signature"), body=got.body, secret=subscription.secret)
    # and the attempt and the event say so
    delivery = WebhookDelivery.objects.get()
    assert (delivery.attempt, delivery.status_code, delivery.error, delivery.next_retry_at) == (1, 200, "", None)
    assert delivery.duration_ms is not None
    event.refresh_from_db()
    assert event.delivered_at is not None
    assert event.next_retry_at is None


def test_failure_schedules_retries_further_apart_each_time(
    tenant_b: Company, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    # given a receiver that fails twice, and an event due now
    receiver.reply_with(Reply(500), Reply(503))
    event = WebhookEventFactory(subscription=WebhookSubscriptionFactory(url=receiver.url))
    # when beat claims it, it fails; the clock reaches the retry; beat claims it again
    [first] = _claim_and_send(django_capture_on_commit_callbacks)
    WebhookEvent.objects.filter(pk=event.pk).update(next_retry_at=timezone.now())
    [second] = _claim_and_send(django_capture_on_commit_callbacks)
    # then each attempt is recorded with its status and the next one is scheduled later
    assert [(d.attempt, d.status_code) for d in (first, second)] == [(1, 500), (2, 503)]
    assert first.next_retry_at is not None
    assert second.next_retry_at is not None
    first_delay = (first.next_retry_at - first.created_at).total_seconds()
    second_delay = (second.next_retry_at - second.created_at).total_seconds()
    assert 24 <= first_delay <= 37  # about 30 s, jittered
    assert 96 <= second_delay <= 145  # about 4 times that
    event.refresh_from_db()
    assert event.next_retry_at == second.next_retry_at
    assert event.attempts == 2
    assert event.delivered_at is None
    assert len(receiver.received) == 2


def test_retry_delay_grows_fourfold_and_stops_at_three_hours() -> None:
    # when
    delays = [webhooks.retry_delay(attempt=n).total_seconds() for n in range(1, 9)]
    # then
    assert 24 <= delays[0] <= 36
    assert all(later > earlier for earlier, later in itertools.pairwise(delays[:5]))
    assert delays[5:] == [3 * 3600.0] * 3


def test_timeout_is_recorded_and_retried(
    tenant_b: Company,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Capture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a receiver slower than the time limit (shortened for the test)
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.3)
    receiver.reply_with(Reply(200, delay=1.0))
    WebhookEventFactory(subscription=WebhookSubscriptionFactory(url=receiver.url))
    # when
    [delivery] = _claim_and_send(django_capture_on_commit_callbacks)
    # then
    assert delivery.status_code is None
    assert delivery.error == webhooks.TIMED_OUT
    assert delivery.duration_ms is not None
    assert delivery.duration_ms >= 300
    assert delivery.next_retry_at is not None


def test_connection_refused_is_recorded_and_retried(
    tenant_b: Company, settings: SettingsWrapper, django_capture_on_commit_callbacks: Capture
) -> None:
    # given an endpoint where nothing listens
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    WebhookEventFactory(subscription=WebhookSubscriptionFactory(url=f"http://127.0.0.1:{port}/hook"))
    # when
    [delivery] = _claim_and_send(django_capture_on_commit_callbacks)
    # then
    assert delivery.status_code is None
    assert delivery.error.startswith("ConnectError")
    assert delivery.next_retry_at is not None


def test_redirect_is_not_followed_and_counts_as_failure(
    tenant_b: Company, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    # given
    receiver.reply_with(Reply(302, headers={"Location": receiver.url + "/elsewhere"}))
    WebhookEventFactory(subscription=WebhookSubscriptionFactory(url=receiver.url))
    # when
    [delivery] = _claim_and_send(django_capture_on_commit_callbacks)
    # then
    assert len(receiver.received) == 1
    assert delivery.status_code == 302
    assert delivery.error == webhooks.REDIRECT_REFUSED.format(status=302)
    assert delivery.next_retry_at is not None


def test_gives_up_after_a_failure_once_24_hours_have_passed(
    tenant_b: Company, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    # given an event from 25 hours ago, still failing
    receiver.reply_with(Reply(500))
    event = WebhookEventFactory(
        subscription=WebhookSubscriptionFactory(url=receiver.url), created_at=timezone.now() - timedelta(hours=25)
    )
    # when
    [delivery] = _claim_and_send(django_capture_on_commit_callbacks)
    # then
    event.refresh_from_db()
    assert event.gave_up_at is not None
    assert event.next_retry_at is None
    assert delivery.next_retry_at is None
    assert webhooks.webhook_events_due_claim() == 0


def test_keeps_retrying_before_24_hours(
    tenant_b: Company, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    # given an event from 23 hours ago, still failing
    receiver.reply_with(Reply(500))
    event = WebhookEventFactory(
        subscription=WebhookSubscriptionFactory(url=receiver.url), created_at=timezone.now() - timedelta(hours=23)
    )
    # when
    _claim_and_send(django_capture_on_commit_callbacks)
    # then
    event.refresh_from_db()
    assert event.gave_up_at is None
    assert event.next_retry_at is not None


def test_replay_sends_a_delivered_event_again_as_a_new_attempt(
    tenant_b: Company, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    # given an event delivered once
    WebhookEventFactory(subscription=WebhookSubscriptionFactory(url=receiver.url))
    [first] = _claim_and_send(django_capture_on_commit_callbacks)
    delivered_at = WebhookEvent.objects.get().delivered_at
    # when the integrator replays it
    with django_capture_on_commit_callbacks() as callbacks:
        replay = webhooks.webhook_delivery_replay(delivery=first)
    tasks_run(callbacks)
    # then the same event went out again, recorded as attempt 2, with nothing more scheduled
    assert [json.loads(got.body)["id"] for got in receiver.received] == [str(first.event.public_id)] * 2
    replay.refresh_from_db()
    assert (replay.attempt, replay.status_code, replay.next_retry_at) == (2, 200, None)
    event = WebhookEvent.objects.get()
    assert event.delivered_at == delivered_at
    assert event.next_retry_at is None


def test_failed_replay_of_a_given_up_event_schedules_nothing(
    tenant_b: Company, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    # given an event given up on
    receiver.reply_with(Reply(500), Reply(500))
    WebhookEventFactory(
        subscription=WebhookSubscriptionFactory(url=receiver.url), created_at=timezone.now() - timedelta(hours=25)
    )
    [first] = _claim_and_send(django_capture_on_commit_callbacks)
    # when it is replayed and fails again
    with django_capture_on_commit_callbacks() as callbacks:
        replay = webhooks.webhook_delivery_replay(delivery=first)
    tasks_run(callbacks)
    # then
    replay.refresh_from_db()
    assert (replay.attempt, replay.status_code, replay.next_retry_at) == (2, 500, None)
    assert webhooks.webhook_events_due_claim() == 0


def test_during_a_rotation_both_secrets_sign(
    tenant_b: Company, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    # given charlie rotated the secret
    subscription = WebhookSubscriptionFactory(url=receiver.url)
    old_secret = subscription.secret
    subscription = webhooks.webhook_subscription_rotate_secret(subscription=subscription)
    WebhookEventFactory(subscription=subscription)
    # when
    _claim_and_send(django_capture_on_commit_callbacks)
    # then one v1= per valid secret, each verifying with its secret
    [got] = receiver.received
    header = got.header("Kontakt-Signature")
    assert len(signatures_in(header)) == 2
    assert signature_verify(header=header, body=got.body, secret=subscription.secret)
    assert signature_verify(header=header, body=got.body, secret=old_secret)


def test_after_the_overlap_only_the_new_secret_signs(
    tenant_b: Company, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    # given a rotation whose overlap has ended
    subscription = WebhookSubscriptionFactory(
        url=receiver.url, rotated=True, previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    WebhookEventFactory(subscription=subscription)
    # when
    _claim_and_send(django_capture_on_commit_callbacks)
    # then
    [got] = receiver.received
    header = got.header("Kontakt-Signature")
    assert len(signatures_in(header)) == 1
    assert signature_verify(header=header, body=got.body, secret=subscription.secret)
    assert not signature_verify(header=header, body=got.body, secret=subscription.previous_secret)


# --- claims: no attempt twice ----------------------------------------------------------------


def test_two_claims_of_one_due_event_start_one_attempt(
    tenant_b: Company, django_capture_on_commit_callbacks: Capture
) -> None:
    # given an event two workers both saw as due with 0 attempts
    event = WebhookEventFactory()
    now = timezone.now()
    # when both claim it
    with django_capture_on_commit_callbacks() as callbacks:
        first = webhooks.webhook_event_claim(event_id=event.pk, attempts_seen=0, now=now)
        second = webhooks.webhook_event_claim(event_id=event.pk, attempts_seen=0, now=now)
    # then only one attempt exists and only one send was enqueued
    assert first is not None
    assert second is None
    assert tasks_enqueued(callbacks) == [("inbox.tasks.webhook_delivery_send_task", (first.pk,))]
    event.refresh_from_db()
    assert event.attempts == 1
    assert event.next_retry_at is not None
    assert event.next_retry_at > now


def test_a_send_task_delivered_twice_posts_once(
    tenant_b: Company, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    # given a claimed attempt
    WebhookEventFactory(subscription=WebhookSubscriptionFactory(url=receiver.url))
    with django_capture_on_commit_callbacks() as callbacks:
        webhooks.webhook_events_due_claim()
    # when the broker hands the same message to two workers
    tasks_run(callbacks)
    tasks_run(callbacks)
    # then
    assert len(receiver.received) == 1
    assert WebhookDelivery.objects.count() == 1


def test_beat_does_not_reclaim_an_attempt_within_its_lease(
    tenant_b: Company, django_capture_on_commit_callbacks: Capture
) -> None:
    # given
    WebhookEventFactory()
    with django_capture_on_commit_callbacks():
        first_tick = webhooks.webhook_events_due_claim()
    # when the next tick comes before the attempt finished
    with django_capture_on_commit_callbacks() as callbacks:
        second_tick = webhooks.webhook_events_due_claim()
    # then
    assert (first_tick, second_tick) == (1, 0)
    assert callbacks == []


def test_a_lost_attempt_is_claimed_again_after_its_lease_and_sent_once(
    tenant_b: Company, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    # given an attempt whose task message was lost, and its lease ran out
    event = WebhookEventFactory(subscription=WebhookSubscriptionFactory(url=receiver.url))
    with django_capture_on_commit_callbacks() as lost:
        webhooks.webhook_events_due_claim()
    WebhookEvent.objects.filter(pk=event.pk).update(next_retry_at=timezone.now())
    # when beat claims it again, and then the lost message turns up after all
    [retry] = _claim_and_send(django_capture_on_commit_callbacks)
    tasks_run(lost)
    # then one POST, as attempt 2; attempt 1 says it was interrupted
    assert len(receiver.received) == 1
    assert (retry.attempt, retry.status_code) == (2, 200)
    stale = WebhookDelivery.objects.get(attempt=1)
    assert stale.error == webhooks.INTERRUPTED
    assert stale.status_code is None


def test_an_attempt_claimed_too_long_ago_is_not_started(
    tenant_b: Company, receiver: Receiver, django_capture_on_commit_callbacks: Capture
) -> None:
    # given a claim whose task sat in the queue for 3 minutes
    WebhookEventFactory(subscription=WebhookSubscriptionFactory(url=receiver.url))
    with django_capture_on_commit_callbacks() as callbacks:
        webhooks.webhook_events_due_claim()
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(minutes=3))
    # when
    tasks_run(callbacks)
    # then it is left for beat to claim again once the lease ends
    assert receiver.received == []
    assert WebhookDelivery.objects.get().started_at is None


def test_disabled_subscription_events_wait(tenant_b: Company, django_capture_on_commit_callbacks: Capture) -> None:
    # given
    WebhookEventFactory(subscription=WebhookSubscriptionFactory(is_active=False))
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        claimed = webhooks.webhook_events_due_claim()
    # then
    assert claimed == 0
    assert callbacks == []


def test_beat_dispatch_claims_due_events_of_companies_with_webhooks_only(
    company_a: Company, company_b: Company, django_capture_on_commit_callbacks: Capture
) -> None:
    # given a due event in B (enterprise) and one in A (free plan: left alone)
    with schema_context(company_b.schema_name):
        in_b = WebhookEventFactory()
    with schema_context(company_a.schema_name):
        in_a = WebhookEventFactory()
    # when beat's task runs in the public schema
    with django_capture_on_commit_callbacks() as callbacks:
        tasks.webhook_events_dispatch_task()
    # then
    assert [name for name, _ in tasks_enqueued(callbacks)] == ["inbox.tasks.webhook_delivery_send_task"]
    with schema_context(company_b.schema_name):
        assert WebhookEvent.objects.get(pk=in_b.pk).attempts == 1
    with schema_context(company_a.schema_name):
        assert WebhookEvent.objects.get(pk=in_a.pk).attempts == 0


# --- SSRF at delivery time ----------------------------------------------------------------------


def test_delivery_refuses_a_host_that_now_resolves_to_loopback(
    tenant_b: Company,
    receiver: Receiver,
    settings: SettingsWrapper,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    # given a name that was public when saved but now points at loopback, with the guard on
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    monkeypatch.setattr(socket, "getaddrinfo", FakeDns({"hooks.example.test": ["127.0.0.1"]}))
    WebhookEventFactory(
        subscription=WebhookSubscriptionFactory(url=f"http://hooks.example.test:{receiver.port}/hooks/kontakt")
    )
    # when
    [delivery] = _claim_and_send(django_capture_on_commit_callbacks)
    # then nothing reached the server; the attempt says why and is retried
    assert receiver.received == []
    assert delivery.error.startswith("Refused: The host hooks.example.test resolves to 127.0.0.1")
    assert delivery.next_retry_at is not None


def test_delivery_connects_to_the_address_it_checked(
    tenant_b: Company,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    # given a name resolving to the receiver (private targets allowed by the fixture)
    dns = FakeDns({"hooks.example.test": ["127.0.0.1"]})
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    WebhookEventFactory(
        subscription=WebhookSubscriptionFactory(url=f"http://hooks.example.test:{receiver.port}/hooks/kontakt")
    )
    # when
    [delivery] = _claim_and_send(django_capture_on_commit_callbacks)
    # then the name was resolved once (by the check) and the request still names the host
    assert delivery.status_code == 200
    assert dns.lookups == ["hooks.example.test"]
    [got] = receiver.received
    assert got.header("Host") == f"hooks.example.test:{receiver.port}"
