"""Concurrent rollup runs (committed rows, real connections): they take turns on the
watermark row and end with the same numbers as one run."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from config.tests.test_celery_worker import committed_db as committed_db  # the fixture
from conftest import Persona
from inbox.models import Contact, PhoneNumber, Thread
from inbox.services.threads import thread_record_inbound, thread_status_set
from inbox.tests.factories import MessageFactory, OutboundMessageFactory, ThreadFactory
from reports.models import BroadcastFunnel, DailyStat, Episode, ThreadStatusEvent, Watermark
from reports.services import reports_rollup

Clock = Callable[[datetime], AbstractContextManager[None]]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RUNS = 4


@pytest.fixture
def globex_threads(committed_db: None, personas: dict[str, Persona], clock: Clock) -> Iterator[str]:
    """Three committed conversations in company B, removed afterwards with every report row."""
    charlie = personas["charlie"]
    schema = charlie.company.schema_name
    made: list[Thread] = []
    with schema_context(schema):
        for i in range(3):
            with clock(T0):
                thread = ThreadFactory()
                made.append(thread)
                thread_record_inbound(thread=thread, message=MessageFactory(thread=thread))
            with clock(T0 + timedelta(minutes=i + 1)):
                OutboundMessageFactory(thread=thread, sent_by=charlie.user, accepted=True)
            with clock(T0 + timedelta(hours=1)):
                thread.refresh_from_db()
                thread_status_set(thread=thread, status=Thread.Status.RESOLVED)
    try:
        yield schema
    finally:
        with schema_context(schema):
            Thread.objects.filter(pk__in=[t.pk for t in made]).delete()
            Contact.objects.filter(pk__in=[t.contact_id for t in made]).delete()
            PhoneNumber.objects.filter(pk__in=[t.phone_number_id for t in made]).delete()
            # Report rows are derived: this schema's are rebuilt by the next run anyway.
            for model in (ThreadStatusEvent, Episode, DailyStat, BroadcastFunnel, Watermark):
                model.objects.all().delete()
        connection.set_schema_to_public()


def test_concurrent_runs_take_turns_and_agree(globex_threads: str) -> None:
    # given
    barrier = threading.Barrier(RUNS)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with schema_context(globex_threads):
                barrier.wait()
                reports_rollup(now=T0 + timedelta(days=1))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    # when
    workers = [threading.Thread(target=run) for _ in range(RUNS)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(60)
    # then
    assert errors == []
    with schema_context(globex_threads):
        day = DailyStat.objects.get(dimension=DailyStat.Dimension.ALL, day=T0.date())
        assert (day.opened, day.resolved, day.responded, day.first_response_seconds) == (3, 3, 3, 360.0)
        assert Episode.objects.count() == 3
        assert Watermark.objects.get().processed_until == T0 + timedelta(days=1)
