"""A broadcast through the sandbox provider reports sent → delivered → read like single sends,
through the production status path (stored webhook bodies, processed by the same task),
and a follow-up "to those who have not read it" picks exactly the others, once each."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django_tenants.utils import get_public_schema_name, schema_context

from inbox import broadcast_selectors as selectors
from inbox.models import Broadcast, Delivery, Message, PhoneNumber
from inbox.services import broadcasts
from inbox.tests.factories import LabelFactory, TemplateFactory
from inbox.tests.factories_broadcasts import OptedInContactFactory
from inbox.tests.test_broadcast_canary import dispatch_and_run
from inbox.tests.webhook_payloads import DISPLAY_A, NUMBER_A, connect, process
from tenants.models import Company, ProviderEvent


@pytest.fixture(autouse=True)
def _sandbox(settings: Any) -> None:
    settings.WHATSAPP_API_BASE = ""
    settings.BROADCAST_NUMBER_RATE = 100_000
    settings.BROADCAST_CHUNK_SIZE = 10


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


def _broadcast(number: PhoneNumber, audience: dict[str, Any], template: Any = None) -> Broadcast:
    return broadcasts.broadcast_start(
        broadcast=broadcasts.broadcast_create(
            name="Flight KT 101 delayed", template=template or TemplateFactory(), phone_number=number,
            template_parameters=["Ada", "A-1"], audience=audience,
        )
    )  # fmt: skip


def _process_statuses() -> list[dict[str, Any]]:
    """Processes every stored webhook body in order (as the worker would); returns the bodies."""
    with schema_context(get_public_schema_name()):
        events = list(ProviderEvent.objects.order_by("id"))
        for event in events:
            process(event)
        return [json.loads(bytes(e.body)) for e in events]


def test_a_sandbox_broadcast_moves_to_delivered_and_read_through_status_webhooks(
    tenant_a: Company, number_a: PhoneNumber, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a broadcast of 20 sent through the sandbox
    OptedInContactFactory.create_batch(20)
    broadcast = _broadcast(number_a, {"type": "all"})
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    assert selectors.broadcast_counts(broadcast=broadcast)["sent"] == 20
    # when: the played status webhooks are processed
    bodies = _process_statuses()
    # then: one envelope per batch and stage, in the platform's shape, carrying our callback ids
    statuses = [s for b in bodies for s in b["entry"][0]["changes"][0]["value"]["statuses"]]
    assert {s["status"] for s in statuses} == {"sent", "delivered", "read"}
    assert len([s for s in statuses if s["status"] == "delivered"]) == 20
    wamids = set(Message.objects.filter(template_name=broadcast.template.name).values_list("wamid", flat=True))
    assert {s["id"] for s in statuses} == wamids
    callbacks = {str(p) for p in Message.objects.filter(wamid__in=wamids).values_list("public_id", flat=True)}
    assert {s["biz_opaque_callback_data"] for s in statuses} == callbacks
    # and the broadcast's counts moved: everyone delivered, most of them read
    counts = selectors.broadcast_counts(broadcast=broadcast)
    read = len([s for s in statuses if s["status"] == "read"])
    assert 0 < read < 20
    assert (counts["read"], counts["delivered"], counts["sent"]) == (read, 20 - read, 0)


def test_a_follow_up_to_those_who_have_not_read_it_goes_to_exactly_them_once(
    tenant_a: Company, number_a: PhoneNumber, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a first broadcast to 20 (some have read it), and contacts in two overlapping labels
    people = OptedInContactFactory.create_batch(20)
    first = _broadcast(number_a, {"type": "all"})
    dispatch_and_run(first, django_capture_on_commit_callbacks)
    _process_statuses()
    unread = set(
        Delivery.objects.filter(broadcast=first).exclude(message__status="read").values_list("contact_id", flat=True)
    )
    assert 0 < len(unread) < 20
    OptedInContactFactory()  # never a recipient of the first
    # when
    follow_up = _broadcast(number_a, {"type": "broadcast", "broadcast": str(first.public_id), "only_unread": True})
    everyone_again = _broadcast(number_a, {"type": "broadcast", "broadcast": first.pk})
    # then
    assert set(Delivery.objects.filter(broadcast=follow_up).values_list("contact_id", flat=True)) == unread
    assert follow_up.total == len(unread)
    assert everyone_again.total == 20
    vip, frequent = LabelFactory(name="vip"), LabelFactory(name="frequent-flyer")
    for person in people[:10]:
        person.labels.add(vip)
    for person in people[5:15]:
        person.labels.add(frequent)
    overlap = _broadcast(number_a, {"type": "labels", "labels": ["vip", "frequent-flyer"]})
    assert overlap.total == 15
    assert Delivery.objects.filter(broadcast=overlap).values("contact_id").distinct().count() == 15
