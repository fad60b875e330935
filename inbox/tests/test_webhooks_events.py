"""`events.event_publish`: what other services call inside their transaction after a change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction

from inbox.models import WebhookDelivery, WebhookEvent
from inbox.representations import iso
from inbox.services import events
from inbox.tests.factories_webhooks import WebhookSubscriptionFactory
from inbox.tests.webhook_receiver import tasks_enqueued
from tenants.models import Company

Capture = Callable[..., Any]
MESSAGE = {"id": "3f1c5a2e-0000-4000-8000-000000000001", "text": "Hallo, Grüße 👋"}


def test_records_one_event_per_listening_active_subscription(
    tenant_b: Company, django_capture_on_commit_callbacks: Capture
) -> None:
    # given three endpoints of charlie's: one listening, one for other events, one disabled
    listening = WebhookSubscriptionFactory(events=["message.received", "message.status"])
    WebhookSubscriptionFactory(events=["thread.updated"])
    WebhookSubscriptionFactory(events=["message.received"], is_active=False)
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        events.event_publish(event_type="message.received", data=MESSAGE)
    # then one event, its first attempt claimed and its send enqueued after commit
    event = WebhookEvent.objects.get()
    assert event.subscription == listening
    assert event.attempts == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.event, delivery.attempt, delivery.started_at) == (event, 1, None)
    assert tasks_enqueued(callbacks) == [("inbox.tasks.webhook_delivery_send_task", (delivery.pk,))]


def test_payload_is_the_documented_envelope(tenant_b: Company, django_capture_on_commit_callbacks: Capture) -> None:
    # given
    WebhookSubscriptionFactory()
    # when
    with django_capture_on_commit_callbacks():
        events.event_publish(event_type="message.received", data=MESSAGE)
    # then
    event = WebhookEvent.objects.get()
    assert event.payload == {
        "id": str(event.public_id),
        "type": "message.received",
        "created_at": iso(event.created_at),
        "company": "globex",
        "data": MESSAGE,
    }


def test_each_subscription_gets_its_own_event_id(
    tenant_b: Company, django_capture_on_commit_callbacks: Capture
) -> None:
    # given
    WebhookSubscriptionFactory.create_batch(2)
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        events.event_publish(event_type="thread.updated", data={"id": "t-1"})
    # then
    assert len({event.public_id for event in WebhookEvent.objects.all()}) == 2
    assert len(callbacks) == 2


def test_free_plan_records_nothing(tenant_a: Company, django_capture_on_commit_callbacks: Capture) -> None:
    # given alice's company (free plan) somehow has a subscription
    WebhookSubscriptionFactory()
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        events.event_publish(event_type="message.received", data=MESSAGE)
    # then
    assert not WebhookEvent.objects.exists()
    assert callbacks == []


def test_nothing_is_sent_when_the_callers_transaction_rolls_back(
    tenant_b: Company, django_capture_on_commit_callbacks: Capture
) -> None:
    # given
    WebhookSubscriptionFactory()
    # when the service that published fails afterwards
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError), transaction.atomic():  # noqa: PT012
        events.event_publish(event_type="message.status", data=MESSAGE)
        raise RuntimeError("the change failed")
    # then
    assert not WebhookEvent.objects.exists()
    assert callbacks == []


def test_unknown_event_type_is_a_programming_error(tenant_b: Company) -> None:
    # when / then
    with pytest.raises(ValueError, match=r"Unknown event type 'message\.deleted'"):
        events.event_publish(event_type="message.deleted", data={})
