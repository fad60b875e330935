"""Fairness: one company's huge broadcast neither starves another company's broadcast nor
shares a queue with agents' one-to-one replies (docs/broadcasts.md, "Queues and fairness")."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django_tenants.utils import schema_context

from billing import services as billing_services
from config.celery import app
from config.tests.test_celery_worker import committed_db as committed_db  # the fixture
from inbox.models import Broadcast, Delivery
from inbox.tests.test_broadcast_worker import (
    Campaign,
    Sink,
    _final_states,
    _start,
    _status,
    _wait,
    campaign,  # noqa: F401 - fixture
    sink,  # noqa: F401 - fixture
    start_worker,  # noqa: F401 - fixture
)

BROADCAST_TASKS = (
    "inbox.tasks.broadcast_chunk_send_task",
    "inbox.tasks.broadcast_dispatch_task",
    "inbox.tasks.broadcast_start_task",
    # Send later's due scan waits on the same queue (inbox/services/scheduled.py).
    "inbox.tasks.scheduled_messages_send_task",
)
ONE_TO_ONE_TASKS = (
    "inbox.tasks.message_deliver_task",
    "inbox.tasks.media_fetch_task",
    "tenants.tasks.provider_event_process_task",
    "inbox.tasks.webhook_delivery_send_task",
)


def _queue_of(task_name: str) -> str:
    route = app.amqp.router.route({}, task_name)
    return route["queue"].name


def test_broadcast_work_has_its_own_queue_and_one_to_one_work_never_goes_there() -> None:
    # then: fan-out goes to the broadcast queue, an agent's reply (and what its answer
    # brings back: statuses, media, webhooks) to the default one
    assert {_queue_of(name) for name in BROADCAST_TASKS} == {settings.TEST_BROADCAST_QUEUE}
    assert {_queue_of(name) for name in ONE_TO_ONE_TASKS} == {settings.CELERY_TASK_DEFAULT_QUEUE}


def test_the_production_routes_name_only_broadcast_tasks() -> None:
    from config import settings as production

    assert set(production.CELERY_TASK_ROUTES) == set(BROADCAST_TASKS)
    assert {route["queue"] for route in production.CELERY_TASK_ROUTES.values()} == {"broadcasts"}


def _remaining(c: Campaign) -> int:
    with schema_context(c.schema):
        return Broadcast.objects.get(pk=c.broadcast.pk).remaining


@pytest.mark.worker
def test_a_second_companys_broadcast_is_not_starved_by_a_huge_one(
    campaign: Callable[..., Campaign],  # noqa: F811
    sink: Sink,  # noqa: F811
    start_worker: Callable[..., Any],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: ONE worker process; acme's broadcast of 10,000 (50 chunks of 200, about 20 s at
    # 500 msg/s on its number) is under way when globex starts one of 400 on its own number
    monkeypatch.setattr(billing_services, "limits_reserve", lambda **kwargs: None)  # plan limits: billing's tests
    huge, small = campaign(10_000, persona="alice"), campaign(400, persona="charlie")
    start_worker("w1", rate=500)
    _start(huge)
    _wait(lambda: sink.stats()["total"] >= 600, 30, "the huge broadcast to be under way")
    # when
    started = time.monotonic()
    _start(small)
    _wait(lambda: _status(small) == Broadcast.Status.COMPLETED, 60, "the small broadcast to complete")
    took = time.monotonic() - started
    # then: it finished while the huge one still had most of its audience to go (it waited
    # for about twice the huge one's window of chunks, not for the ~45 chunks left of it)
    left = _remaining(huge)
    assert _status(huge) == Broadcast.Status.RUNNING
    assert left > 5000, f"the huge broadcast had only {left} left when the small one completed ({took:.1f} s)"
    assert _final_states(small) == {Delivery.Status.SENT: 400}
    _wait(lambda: _status(huge) == Broadcast.Status.COMPLETED, 120, "the huge broadcast to complete")
    assert sink.stats()["unique"] == 10_400
