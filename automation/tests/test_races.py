"""Concurrency: round-robin and the once-per-period reply under parallel workers.

Each racer has its own database connection, so the rows are committed (visible to all)
and removed afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.tests.factories import UserFactory
from automation import services
from automation.models import AgentAutomation, AutomationSettings, AutoReply, Holiday, OpeningInterval
from automation.tests.helpers import inbound, settings_set, weekdays_nine_to_five
from config.tests.test_celery_worker import committed_db as committed_db  # the fixture
from conftest import Persona
from inbox import tasks as inbox_tasks
from inbox.models import Contact, Message, PhoneNumber, Thread
from inbox.tests.factories import ThreadFactory

RACERS = 8
SUNDAY_NIGHT = datetime(2026, 6, 7, 22, 0, tzinfo=UTC)


@pytest.fixture
def schema_a(committed_db: None, personas: dict[str, Persona], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Company A's schema with committed rows, cleaned afterwards; deliveries not enqueued."""
    monkeypatch.setattr(inbox_tasks.message_deliver_task, "delay", lambda *args, **kwargs: None)
    schema = personas["alice"].company.schema_name
    with schema_context(schema):
        users_before = set(User.objects.values_list("pk", flat=True))
    try:
        yield schema
    finally:
        with schema_context(schema):
            AutoReply.objects.all().delete()
            Thread.objects.all().delete()
            Contact.objects.all().delete()
            PhoneNumber.objects.all().delete()
            AgentAutomation.objects.all().delete()
            AutomationSettings.objects.all().delete()
            OpeningInterval.objects.all().delete()
            Holiday.objects.all().delete()
            User.objects.exclude(pk__in=users_before).delete()
        connection.set_schema_to_public()


def _race(schema: str, worker: Callable[[int], object]) -> list[object]:
    barrier = threading.Barrier(RACERS)
    results: list[object] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            with schema_context(schema):
                barrier.wait()
                results.append(worker(i))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    racers = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(60)
    assert not errors, errors
    return results


def test_concurrent_new_threads_are_shared_round_robin_within_caps(schema_a: str) -> None:
    # given: three agents taking 2 threads each, 8 threads arriving at once
    with schema_context(schema_a):
        settings_set(auto_assign_enabled=True)
        agents = [UserFactory() for _ in range(3)]
        for agent in agents:
            services.agent_automation_update(user=agent, auto_assign=True, max_open_threads=2)
        thread_ids = [ThreadFactory().pk for _ in range(RACERS)]
    # when
    results = _race(schema_a, lambda i: services.thread_auto_assign(thread_id=thread_ids[i]))
    # then: six assigned, two each, two waiting
    with schema_context(schema_a):
        assert sum(result is not None for result in results) == 6
        loads = {a.pk: Thread.objects.filter(assignee=a).count() for a in agents}
        assert loads == {a.pk: 2 for a in agents}
        assert Thread.objects.filter(pk__in=thread_ids, assignee__isnull=True).count() == 2


def test_concurrent_messages_of_one_customer_get_one_away_message(schema_a: str) -> None:
    # given: a burst of messages on Sunday night, processed by parallel workers
    with schema_context(schema_a):
        settings_set(away_enabled=True, greeting_enabled=True)
        weekdays_nine_to_five()
        thread = ThreadFactory(window_open=True)
        message_ids = [inbound(thread=thread, at=SUNDAY_NIGHT).pk for _ in range(RACERS)]
    # when: every message twice at the same moment (a redelivered task racing the first)
    results = _race(
        schema_a, lambda i: services.inbound_automation_run(message_id=message_ids[i % 4 * 2], now=timezone.now())
    )
    # then: one greeting (first message only) and one away message
    with schema_context(schema_a):
        sent = Message.objects.filter(thread=thread, direction=Message.Direction.OUTBOUND)
        assert sorted(m.payload["auto_reply"] for m in sent) == ["away", "greeting"]
        assert AutoReply.objects.filter(kind="away").count() == 4
        assert len(results) == RACERS
