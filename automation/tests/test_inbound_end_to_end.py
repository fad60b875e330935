"""Worker-free end to end: a signed webhook → stored message → (after commit) the
automation task → assignment, greeting and away message queued for delivery."""

from __future__ import annotations

import json
from datetime import time, timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from automation import services, tasks
from automation.services import IntervalInput
from automation.tests.helpers import AWAY, GREETING, settings_set
from conftest import Persona
from inbox import tasks as inbox_tasks
from inbox.models import Message, PhoneNumber, Thread
from inbox.tests.webhook_payloads import (
    CUSTOMER,
    DISPLAY_A,
    NUMBER_A,
    connect,
    envelope_build,
    post,
    process,
    text_message_item,
)
from tenants.models import Company


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


@pytest.fixture
def deliveries(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Runs the automation task inline when its transaction commits (as a worker would,
    with the same JSON round trip of arguments) and records delivery tasks instead of
    calling the provider."""
    sent: list[int] = []

    def on_commit_inline(message_id: int) -> None:
        # tenant-schemas-celery sends the task with the sender's schema; the worker runs it there.
        schema = connection.schema_name

        def run() -> None:
            with schema_context(schema):
                tasks.automation_inbound_task.run(*json.loads(json.dumps([message_id])))

        transaction.on_commit(run)

    monkeypatch.setattr(tasks.automation_inbound_task, "delay_on_commit", on_commit_inline)
    monkeypatch.setattr(inbox_tasks.message_deliver_task, "delay", lambda message_id: sent.append(message_id))
    return sent


def _closed_now() -> None:
    """Business hours that are closed at this moment: one hour, three days from today."""
    day = (timezone.now().weekday() + 3) % 7
    services.business_hours_set(time_zone="UTC", intervals=[IntervalInput(day, time(9), time(10))], holidays=[])


def _receive(client: Client, text: str, captured: Any, *, at: float | None = None) -> None:
    item = text_message_item(sender=CUSTOMER, text=text, at=at)
    event = post(client, envelope_build(phone_number_id=NUMBER_A, messages=[item]))
    with captured(execute=True):
        process(event)


def test_a_first_message_at_night_is_assigned_greeted_and_answered_once(
    public_client: Client,
    company_a: Company,
    number_a: PhoneNumber,
    bob: Persona,
    deliveries: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given
    with schema_context(company_a.schema_name):
        settings_set(greeting_enabled=True, away_enabled=True, auto_assign_enabled=True)
        services.agent_automation_update(user=bob.user, auto_assign=True)
        _closed_now()
    # when: the customer writes twice within one second (the provider's timestamps are whole
    # seconds, so both carry the same one, and the away reply made meanwhile is newer)
    sent = float(int(timezone.now().timestamp()))
    _receive(public_client, "Hello, are you open?", django_capture_on_commit_callbacks, at=sent)
    _receive(public_client, "Anyone there?", django_capture_on_commit_callbacks, at=sent)
    # then
    with schema_context(company_a.schema_name):
        thread = Thread.objects.get(contact__phone=CUSTOMER)
        assert thread.assignee == bob.user
        replies = list(Message.objects.filter(thread=thread, direction=Message.Direction.OUTBOUND).order_by("id"))
        assert [(m.payload["auto_reply"], m.text, m.sent_by) for m in replies] == [
            ("greeting", GREETING, None),
            ("away", AWAY, None),
        ]
        assert sorted(deliveries) == sorted(m.pk for m in replies)
        assert thread.last_message_preview == AWAY


def test_a_replayed_webhook_sends_nothing_twice(
    public_client: Client,
    company_a: Company,
    number_a: PhoneNumber,
    deliveries: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    # given
    with schema_context(company_a.schema_name):
        settings_set(greeting_enabled=True)
    body = envelope_build(phone_number_id=NUMBER_A, messages=[text_message_item(sender=CUSTOMER, text="Hi")])
    # when: the same body arrives twice (the platform retries)
    for _ in range(2):
        event = post(public_client, body)
        with django_capture_on_commit_callbacks(execute=True):
            process(event)
    # then
    with schema_context(company_a.schema_name):
        assert Message.objects.filter(direction=Message.Direction.OUTBOUND).count() == 1
    assert len(deliveries) == 1


def test_nothing_is_enqueued_while_every_rule_is_off(
    public_client: Client, company_a: Company, number_a: PhoneNumber, django_capture_on_commit_callbacks: Any
) -> None:
    event = post(
        public_client,
        envelope_build(phone_number_id=NUMBER_A, messages=[text_message_item(sender=CUSTOMER, text="Hi")]),
    )
    with django_capture_on_commit_callbacks() as callbacks:
        process(event)
    assert callbacks == []


def test_an_agent_who_comes_back_picks_up_waiting_threads(
    bob: Persona,
    tenant_a: Company,
    deliveries: list[int],
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given: a thread waiting while bob is away
    from inbox.tests.factories import ThreadFactory

    monkeypatch.setattr(tasks.automation_assign_waiting_task, "delay", tasks.automation_assign_waiting_task.run)
    settings_set(auto_assign_enabled=True)
    services.agent_automation_update(user=bob.user, auto_assign=True, available=False)
    thread = ThreadFactory(last_inbound_at=timezone.now() - timedelta(minutes=5))
    assert services.threads_assign_waiting() == 0
    # when
    with django_capture_on_commit_callbacks(execute=True):
        services.agent_availability_set(user=bob.user, available=True)
    # then
    assert Thread.objects.get(pk=thread.pk).assignee == bob.user
