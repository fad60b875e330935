"""Auto-resolve of idle threads (and the rating request it makes, by the rules of an
agent's resolve) and the snooze wake-up, with a controlled clock."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from automation import services, tasks
from automation.tests.helpers import settings_set
from conftest import Persona
from inbox import tasks as inbox_tasks
from inbox.models import CsatSurvey, Message, Thread, WebhookEvent
from inbox.services import csat, threads
from inbox.tests.factories import LabelFactory, ThreadFactory
from inbox.tests.factories_webhooks import WebhookSubscriptionFactory
from tenants.models import Company


@pytest.fixture
def listener(tenant_b: Company) -> None:
    """A thread.updated subscription (company B: its plan has outgoing webhooks)."""
    WebhookSubscriptionFactory(events=["thread.updated"])


def _updated_events() -> list[tuple[str, str]]:
    return [
        (e.payload["data"]["id"], e.payload["data"]["status"])
        for e in WebhookEvent.objects.filter(event_type="thread.updated").order_by("id")
    ]


def test_auto_resolve_is_off_by_default(tenant_a: Company) -> None:
    ThreadFactory(last_message_at=timezone.now() - timedelta(days=400))
    assert services.threads_auto_resolve() == 0
    assert not Thread.objects.filter(status=Thread.Status.RESOLVED).exists()


def test_idle_threads_are_resolved_and_announced(listener: None, tenant_b: Company) -> None:
    # given
    settings_set(auto_resolve_idle_hours=48)
    now = timezone.now()
    idle = ThreadFactory(last_message_at=now - timedelta(hours=48, seconds=1))
    idle_pending = ThreadFactory(last_message_at=now - timedelta(days=5), status=Thread.Status.PENDING)
    fresh = ThreadFactory(last_message_at=now - timedelta(hours=47))
    snoozed = ThreadFactory(
        last_message_at=now - timedelta(days=5), status=Thread.Status.SNOOZED, snoozed_until=now + timedelta(hours=1)
    )
    # when
    resolved = services.threads_auto_resolve(now=now)
    # then
    assert resolved == 2
    statuses = dict(Thread.objects.values_list("pk", "status"))
    assert statuses == {
        idle.pk: "resolved",
        idle_pending.pk: "resolved",
        fresh.pk: "open",
        snoozed.pk: "snoozed",
    }
    assert Thread.objects.get(pk=idle.pk).resolved_at == now
    assert sorted(_updated_events()) == sorted(
        [(str(idle.public_id), "resolved"), (str(idle_pending.public_id), "resolved")]
    )
    # and a second run finds nothing more to do
    assert services.threads_auto_resolve(now=now) == 0
    assert len(_updated_events()) == 2


def test_auto_resolve_works_in_batches(tenant_a: Company) -> None:
    settings_set(auto_resolve_idle_hours=1)
    old = timezone.now() - timedelta(hours=2)
    for _ in range(7):
        ThreadFactory(last_message_at=old)
    assert services.threads_auto_resolve(batch=3) == 7
    assert not Thread.objects.exclude(status=Thread.Status.RESOLVED).exists()


def test_the_beat_task_resolves_in_the_current_company(tenant_a: Company) -> None:
    settings_set(auto_resolve_idle_hours=1)
    thread = ThreadFactory(last_message_at=timezone.now() - timedelta(hours=3))
    tasks.automation_auto_resolve_task.run()
    assert Thread.objects.get(pk=thread.pk).status == Thread.Status.RESOLVED


def test_a_snoozed_thread_wakes_exactly_on_time(listener: None, tenant_b: Company) -> None:
    # given
    until = timezone.now() + timedelta(hours=3)
    thread = ThreadFactory()
    threads.thread_status_set(thread=thread, status=Thread.Status.SNOOZED, snoozed_until=until)
    events_before = len(_updated_events())
    # when / then: a second early nothing happens
    assert threads.thread_wake_snoozed(now=until - timedelta(seconds=1)) == 0
    assert Thread.objects.get(pk=thread.pk).status == Thread.Status.SNOOZED
    # when / then: on the dot it is open again and announced, once
    assert threads.thread_wake_snoozed(now=until) == 1
    assert threads.thread_wake_snoozed(now=until + timedelta(minutes=1)) == 0
    woken = Thread.objects.get(pk=thread.pk)
    assert (woken.status, woken.snoozed_until) == ("open", None)
    assert _updated_events()[events_before:] == [(str(thread.public_id), "open")]


# --- the rating request after an automatic resolve ----------------------------------------


@pytest.fixture
def csat_on(tenant_a: Company) -> Company:
    Company.objects.filter(pk=tenant_a.pk).update(csat_enabled=True)
    tenant_a.csat_enabled = True
    return tenant_a


@pytest.fixture
def deliveries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records the delivery tasks enqueued after commit instead of sending them to the broker."""
    sent: list[int] = []
    monkeypatch.setattr(inbox_tasks.message_deliver_task, "delay", lambda message_id: sent.append(message_id))
    return sent


def _quiet_thread(*, hours: float, **fields: Any) -> Thread:
    """A thread whose customer wrote last `hours` ago and heard nothing since."""
    at = timezone.now() - timedelta(hours=hours)
    return ThreadFactory(last_message_at=at, last_inbound_at=at, **fields)


def test_an_auto_resolve_inside_the_window_asks_for_a_rating_once(
    alice: Persona, csat_on: Company, deliveries: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    # given a customer who went quiet 3 hours ago, with a two-hour idle rule
    settings_set(auto_resolve_idle_hours=2)
    thread = _quiet_thread(hours=3, assignee=alice.user)
    thread.labels.set([LabelFactory(name="delivery")])
    # when the beat task runs, twice
    with django_capture_on_commit_callbacks(execute=True):
        tasks.automation_auto_resolve_task.run()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.automation_auto_resolve_task.run()
    # then the resolve asked once, for the assignee, and its delivery was enqueued once
    resolved = Thread.objects.get(pk=thread.pk)
    assert resolved.status == Thread.Status.RESOLVED
    survey = CsatSurvey.objects.get()
    assert (survey.thread_id, survey.agent, survey.resolved_at) == (thread.pk, alice.user, resolved.resolved_at)
    assert [label.name for label in survey.labels.all()] == ["delivery"]
    message = survey.message
    assert message is not None
    assert (message.type, message.status, message.direction) == ("interactive", "queued", "outbound")
    assert message.payload["interactive"]["type"] == "list"
    assert deliveries == [message.pk]
    # and the request does not bump the resolved thread up the list
    assert resolved.last_message_at == thread.last_message_at
    # and the worker's delivery sends it through the sandbox
    inbox_tasks.message_deliver_task.run(*json.loads(json.dumps(deliveries)))
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_no_rating_once_the_window_has_closed(csat_on: Company, deliveries: list[int]) -> None:
    # given a one-day idle rule: by then the customer's window is always closed
    settings_set(auto_resolve_idle_hours=24)
    thread = _quiet_thread(hours=25)
    # when
    assert services.threads_auto_resolve() == 1
    # then resolved, nothing asked
    assert Thread.objects.get(pk=thread.pk).status == Thread.Status.RESOLVED
    assert not CsatSurvey.objects.exists()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_no_rating_when_the_company_has_it_off(tenant_a: Company, deliveries: list[int]) -> None:
    # given
    settings_set(auto_resolve_idle_hours=1)
    thread = _quiet_thread(hours=2)
    # when
    assert services.threads_auto_resolve() == 1
    # then
    assert Thread.objects.get(pk=thread.pk).status == Thread.Status.RESOLVED
    assert not CsatSurvey.objects.exists()
    assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_a_reopened_thread_resolved_again_is_asked_again(csat_on: Company, deliveries: list[int]) -> None:
    # given a thread auto-resolved once (and asked), then written to again
    settings_set(auto_resolve_idle_hours=1)
    thread = _quiet_thread(hours=2)
    first = timezone.now()
    services.threads_auto_resolve(now=first)
    threads.thread_status_set(thread=Thread.objects.get(pk=thread.pk), status=Thread.Status.OPEN)
    Thread.objects.filter(pk=thread.pk).update(last_message_at=first - timedelta(hours=1, minutes=30))
    # when it goes quiet again
    services.threads_auto_resolve(now=first + timedelta(minutes=1))
    # then each resolve asked once
    assert CsatSurvey.objects.filter(thread=thread).count() == 2


def test_a_failing_rating_request_leaves_the_batch_resolved(
    csat_on: Company, deliveries: list[int], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # given two idle threads, and a rating request that fails for the first of them
    settings_set(auto_resolve_idle_hours=1)
    broken, fine = _quiet_thread(hours=3), _quiet_thread(hours=2)
    ask = csat.csat_on_resolve

    def failing_for_broken(*, thread: Thread, agent: Any) -> CsatSurvey | None:
        survey = ask(thread=thread, agent=agent)
        if thread.pk == broken.pk:
            raise RuntimeError("provider lookup failed")
        return survey

    monkeypatch.setattr(csat, "csat_on_resolve", failing_for_broken)
    # when
    assert services.threads_auto_resolve() == 2
    # then both are resolved, only the second was asked (the first's request rolled back), and it is logged
    assert set(Thread.objects.values_list("status", flat=True)) == {Thread.Status.RESOLVED}
    assert list(CsatSurvey.objects.values_list("thread_id", flat=True)) == [fine.pk]
    assert "rating request after auto-resolve" in caplog.text
