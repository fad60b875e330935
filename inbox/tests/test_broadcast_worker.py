"""Broadcast crash safety with real Celery worker processes and a local HTTP sink.

The sink (inbox.tests.provider_sink) answers like the Cloud API and counts sends per
recipient, so "lost" (a recipient never sent) and "duplicate" (sent twice) are measured
where they matter: at the provider. Rows are committed (the workers must see them) and
removed afterwards; each test has its own number, template and contacts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from billing import services as billing_services
from config.celery import app
from config.tests.test_celery_worker import committed_db as committed_db  # the fixture
from config.tests.workers import worker_start, worker_stop
from inbox.models import Broadcast, Delivery, PhoneNumber, Template
from inbox.services import broadcasts

ROOT = Path(__file__).resolve().parents[2]
RABBITMQ_URL = os.environ.get("TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
CONCURRENCY = 32
FLUSH_SIZE = 50
# What a killed worker may repeat: requests in flight, plus answers it had not written back
# yet (one batch being written while the next fills up).
REPEAT_BOUND = CONCURRENCY + 2 * FLUSH_SIZE


@dataclass
class Sink:
    base_url: str

    def _call(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(  # noqa: S310 - loopback http only
            self.base_url + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback http only
            return json.loads(response.read())

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_stats")

    def throttle(self, seconds: float) -> None:
        self._call("POST", f"/_throttle?seconds={seconds}")


@pytest.fixture
def sink() -> Iterator[Sink]:
    process = subprocess.Popen(
        [sys.executable, "-m", "inbox.tests.provider_sink"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(process.stdout.readline().split()[1])  # type: ignore[union-attr]
        yield Sink(f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)


@contextmanager
def _broker(url: str) -> Iterator[None]:
    """Points this process's Celery producer at `url` for the test's duration."""
    old = app.conf.broker_url
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None
    try:
        yield
    finally:
        app.conf.broker_url = old
        app._pool = None
        app.amqp._producer_pool = None


@pytest.fixture
def start_worker(tmp_path: Path, sink: Sink) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(
        name: str = "w1", broker_url: str | None = None, rate: int = 2000, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        process = worker_start(
            tmp_path / f"{name}.log",
            name=name,
            settings_module="inbox.tests.broadcast_worker_settings",
            env={
                "CELERY_BROKER_URL": broker_url or settings.CELERY_BROKER_URL,
                "WHATSAPP_API_BASE": sink.base_url,
                "BROADCAST_NUMBER_RATE": str(rate),
                "BROADCAST_CHUNK_SIZE": "200",
                "BROADCAST_CONCURRENCY": str(CONCURRENCY),
                "BROADCAST_FLUSH_SIZE": str(FLUSH_SIZE),
                "LOG_LEVEL": "WARNING",
                **(env or {}),
            },
        )
        started.append(process)
        return process

    yield start
    for process in started:
        worker_stop(process)


@pytest.fixture(autouse=True)
def _no_plan_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of recipients on alice's free-plan company: plan limits are billing's tests' concern."""
    monkeypatch.setattr(billing_services, "limits_reserve", lambda **kwargs: None)


@dataclass
class Campaign:
    broadcast: Broadcast
    recipients: int
    schema: str


@pytest.fixture
def campaign(request: pytest.FixtureRequest, personas: dict[str, Any]) -> Iterator[Callable[..., Campaign]]:
    """Makes N opted-in contacts (their own tag), a number and a template in the persona's
    company (alice's by default); removes them after."""
    request.getfixturevalue("committed_db")
    made: list[tuple[Campaign, str]] = []

    def make(recipients: int, persona: str = "alice") -> Campaign:
        schema = personas[persona].company.schema_name
        tag = uuid.uuid4().hex
        with schema_context(schema):
            number = PhoneNumber.objects.create(phone_number_id=f"bc{tag[:12]}", display_number="+4930555000")
            template = Template.objects.create(name=f"promo_{tag[:8]}", language="en", category="marketing",
                                               body="Hello {{1}}", status="approved")  # fmt: skip
            with connection.cursor() as cursor:
                cursor.execute(
                    """INSERT INTO inbox_contact (public_id, phone, wa_id, name, profile_name, attributes, opted_in,
                           opted_out, marketing_opted_out, created_at, updated_at)
                       SELECT gen_random_uuid(), '+1' || (%s + i)::text, '', '', '', %s::jsonb, true, false, false,
                              now(), now()
                       FROM generate_series(1, %s) i""",
                    [int(tag[:6], 16) * 100_000 + 2_000_000_000, json.dumps({"run": tag}), recipients],
                )
            broadcast = broadcasts.broadcast_create(
                name="Crash test", template=template, phone_number=number, template_parameters=["you"],
                audience={"type": "filter", "filter": {"run": tag}},
            )  # fmt: skip
        made.append((Campaign(broadcast, recipients, schema), tag))
        return made[-1][0]

    yield make
    for made_campaign, tag in made:
        broadcast = made_campaign.broadcast
        with schema_context(made_campaign.schema), connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM inbox_message WHERE thread_id IN (SELECT id FROM inbox_thread WHERE phone_number_id = %s)",
                [broadcast.phone_number_id],
            )
            cursor.execute("DELETE FROM inbox_thread WHERE phone_number_id = %s", [broadcast.phone_number_id])
            cursor.execute("DELETE FROM inbox_delivery WHERE broadcast_id = %s", [broadcast.pk])
            cursor.execute("DELETE FROM inbox_broadcast WHERE id = %s", [broadcast.pk])
            cursor.execute("DELETE FROM inbox_template WHERE id = %s", [broadcast.template_id])
            cursor.execute("DELETE FROM inbox_phonenumber WHERE id = %s", [broadcast.phone_number_id])
            cursor.execute("DELETE FROM inbox_contact WHERE attributes->>'run' = %s", [tag])


def _start(c: Campaign) -> None:
    with schema_context(c.schema):
        broadcasts.broadcast_start(broadcast=c.broadcast)


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _status(c: Campaign) -> str:
    with schema_context(c.schema):
        return Broadcast.objects.get(pk=c.broadcast.pk).status


def _final_states(c: Campaign) -> dict[int, int]:
    with schema_context(c.schema):
        rows = Delivery.objects.filter(broadcast_id=c.broadcast.pk).values_list("status").order_by()
        counts: dict[int, int] = {}
        for (status,) in rows:
            counts[status] = counts.get(status, 0) + 1
        return counts


def _sweep_as_if_leases_expired(c: Campaign) -> dict[str, int]:
    with schema_context(c.schema):
        return broadcasts.broadcast_sweep(
            now=timezone.now() + timedelta(seconds=broadcasts.conf("BROADCAST_QUIET_SECONDS") + 1)
        )


def _sigkill_mid_broadcast(c: Campaign, sink: Sink, start_worker: Callable[..., Any], broker_url: str) -> None:
    # given: a worker sending the broadcast
    victim = start_worker("victim", broker_url=broker_url)
    _start(c)
    _wait(lambda: sink.stats()["total"] >= c.recipients // 4, 30, "the first quarter to be sent")
    # when: it is SIGKILLed mid-run, the sweeper runs once its leases have expired, and a
    # fresh worker takes over
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    sent_before = sink.stats()["total"]
    _sweep_as_if_leases_expired(c)
    start_worker("rescuer", broker_url=broker_url)
    _wait(lambda: _status(c) == Broadcast.Status.COMPLETED, 45, "the broadcast to complete")
    # then: nobody lost; only what the dead worker had in flight (or unrecorded) repeated
    stats = sink.stats()
    assert sent_before < c.recipients
    assert _final_states(c) == {Delivery.Status.SENT: c.recipients}
    assert stats["unique"] == c.recipients
    assert stats["duplicates"] <= REPEAT_BOUND, stats


@pytest.mark.worker
def test_sigkill_mid_broadcast_loses_no_one_with_redis(
    campaign: Callable[..., Campaign], sink: Sink, start_worker: Callable[..., Any]
) -> None:
    _sigkill_mid_broadcast(campaign(4000), sink, start_worker, settings.CELERY_BROKER_URL)


@pytest.mark.worker
def test_sigkill_mid_broadcast_loses_no_one_with_rabbitmq(
    campaign: Callable[..., Campaign], sink: Sink, start_worker: Callable[..., Any]
) -> None:
    with _broker(RABBITMQ_URL):
        try:
            _sigkill_mid_broadcast(campaign(4000), sink, start_worker, RABBITMQ_URL)
        finally:
            with app.connection_for_write() as conn:
                conn.default_channel.queue_delete(settings.CELERY_TASK_DEFAULT_QUEUE)
                conn.default_channel.queue_delete(settings.TEST_BROADCAST_QUEUE)


@pytest.mark.worker
def test_provider_answering_429_for_a_while_ends_with_everyone_sent(
    campaign: Callable[..., Campaign], sink: Sink, start_worker: Callable[..., Any]
) -> None:
    # given: the provider refuses every send for 3 s
    c = campaign(1500)
    start_worker("w1")
    sink.throttle(3)
    # when
    _start(c)
    _wait(lambda: _status(c) == Broadcast.Status.COMPLETED, 50, "the broadcast to complete")
    # then
    stats = sink.stats()
    assert _final_states(c) == {Delivery.Status.SENT: c.recipients}
    assert (stats["unique"], stats["duplicates"]) == (c.recipients, 0)


@pytest.mark.worker
def test_two_workers_on_one_broadcast_never_send_twice(
    campaign: Callable[..., Campaign], sink: Sink, start_worker: Callable[..., Any]
) -> None:
    # given
    c = campaign(4000)
    start_worker("w1")
    start_worker("w2")
    # when
    _start(c)
    _wait(lambda: _status(c) == Broadcast.Status.COMPLETED, 45, "the broadcast to complete")
    # then
    stats = sink.stats()
    assert _final_states(c) == {Delivery.Status.SENT: c.recipients}
    assert (stats["unique"], stats["duplicates"]) == (c.recipients, 0)


@pytest.mark.worker
def test_cancel_mid_run_ends_every_recipient_in_a_final_state(
    campaign: Callable[..., Campaign], sink: Sink, start_worker: Callable[..., Any]
) -> None:
    # given: a slow broadcast (200 msg/s)
    c = campaign(2000)
    start_worker("w1", rate=200)
    _start(c)
    _wait(lambda: sink.stats()["total"] >= 100, 20, "the first sends")
    # when
    with schema_context(c.schema):
        broadcasts.broadcast_cancel(broadcast=c.broadcast)
    time.sleep(1.5)
    # then: within one batch nothing more goes out, and nothing is left queued or sending
    states = _final_states(c)
    assert set(states) <= {Delivery.Status.SENT, Delivery.Status.SKIPPED}
    assert sink.stats()["total"] == states.get(Delivery.Status.SENT, 0)
    assert states[Delivery.Status.SKIPPED] > 1000
