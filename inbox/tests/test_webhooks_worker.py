"""Outgoing webhooks through a real Celery worker process: publish → send, then a retry
claimed by the beat task from the public schema and sent in the company's schema."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from config.tests.workers import worker_start, worker_stop
from conftest import Persona
from inbox import tasks
from inbox.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from inbox.services import events
from inbox.tests.factories_webhooks import WebhookSubscriptionFactory
from inbox.tests.webhook_receiver import Receiver, Reply, signature_verify


@pytest.fixture
def committed_db(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    """Database access in autocommit, so the worker sees the rows; the test cleans up."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        connection.set_schema_to_public()
        yield
        connection.set_schema_to_public()


@pytest.fixture
def worker(tmp_path: Path, personas: object) -> Iterator[Path]:
    """`celery worker` on this session's queues and test database, private targets allowed."""
    log_path = tmp_path / "worker.log"
    process = worker_start(log_path, env={"WEBHOOKS_ALLOW_PRIVATE_TARGETS": "1"})
    try:
        yield log_path
    finally:
        worker_stop(process)


def _wait_until(condition: Callable[[], bool], log_path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out; worker log:\n" + log_path.read_text()
        time.sleep(0.1)


def _attempts_answered(schema: str) -> list[int | None]:
    with schema_context(schema):
        return list(
            WebhookDelivery.objects.filter(duration_ms__isnull=False)
            .order_by("attempt")
            .values_list("status_code", flat=True)
        )


@pytest.mark.worker
def test_event_is_sent_by_the_worker_and_retried_through_beat(
    committed_db: None, personas: dict[str, Persona], worker: Path
) -> None:
    # given charlie's endpoint, failing once
    schema = personas["charlie"].company.schema_name
    receiver = Receiver()
    receiver.reply_with(Reply(500))
    with receiver.running(), schema_context(schema):
        subscription = WebhookSubscriptionFactory(url=receiver.url, events=["message.received"])
        try:
            # when a message is received (the publishing transaction commits)
            with transaction.atomic():
                events.event_publish(event_type="message.received", data={"id": "m-1", "text": "Hi"})
            _wait_until(lambda: _attempts_answered(schema) == [500], worker)
            # and, once the retry is due, beat's task runs from the public schema
            WebhookEvent.objects.update(next_retry_at=timezone.now())
            with schema_context("public"):
                tasks.webhook_events_dispatch_task.delay()
            _wait_until(lambda: _attempts_answered(schema) == [500, 200], worker)
            # then the receiver got the same signed event twice, and it counts as delivered
            first, second = receiver.received
            assert first.header("Kontakt-Event-Id") == second.header("Kontakt-Event-Id")
            assert signature_verify(
                header=second.header("Kontakt-Signature"), body=second.body, secret=subscription.secret
            )
            assert WebhookEvent.objects.get().delivered_at is not None
        finally:
            WebhookSubscription.objects.filter(pk=subscription.pk).delete()
