"""Auto-resolve of idle threads and the snooze wake-up, with a controlled clock."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from automation import services, tasks
from automation.tests.helpers import settings_set
from inbox.models import Thread, WebhookEvent
from inbox.services import threads
from inbox.tests.factories import ThreadFactory
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
