"""The sandbox provider answers like the platform: sync refusals, late `failed`, the normal path."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from conftest import Persona
from inbox import tasks
from inbox.models import ConsentEvent, Message, PhoneNumber, Template, Thread
from inbox.providers.errors import ProviderError
from inbox.providers.sandbox import SandboxProvider
from inbox.services import contacts, messages
from inbox.tests.factories import OutboundMessageFactory, TemplateFactory, ThreadFactory
from inbox.tests.webhook_payloads import DISPLAY_A, NUMBER_A, connect, process
from tenants.models import Company, ProviderEvent


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


@pytest.fixture
def open_thread(tenant_a: Company, number_a: PhoneNumber) -> Thread:
    return ThreadFactory(phone_number=number_a, window_open=True)


def _deliver(message: Message) -> None:
    tasks.message_deliver_task.run(*json.loads(json.dumps([message.pk])))


def _fed_statuses() -> list[dict[str, Any]]:
    with schema_context(get_public_schema_name()):
        bodies = [json.loads(bytes(e.body)) for e in ProviderEvent.objects.order_by("id")]
    return [b["entry"][0]["changes"][0]["value"]["statuses"][0] for b in bodies]


def _process_fed() -> None:
    with schema_context(get_public_schema_name()):
        for event in ProviderEvent.objects.order_by("id"):
            process(event)


def test_a_normal_send_is_reported_sent_delivered_read(open_thread: Thread) -> None:
    # given
    message = OutboundMessageFactory(thread=open_thread, text="Hi")
    # when
    accepted = SandboxProvider().send(message)
    # then
    assert accepted.wamid.startswith("wamid.")
    assert [s["status"] for s in _fed_statuses()] == ["sent", "delivered", "read"]


def test_free_form_outside_the_window_is_accepted_then_failed_131047(tenant_a: Company, number_a: PhoneNumber) -> None:
    # given: the platform's own window (no safety margin) closed a minute ago
    thread = ThreadFactory(phone_number=number_a, last_inbound_at=timezone.now() - timedelta(hours=24, minutes=1))
    message = OutboundMessageFactory(thread=thread, text="Still there?")
    # when
    accepted = SandboxProvider().send(message)
    # then
    (status,) = _fed_statuses()
    assert (status["id"], status["status"]) == (accepted.wamid, "failed")
    assert status["errors"][0]["code"] == 131047
    assert "pricing" not in status


def test_a_late_131047_fails_the_message_through_the_webhook_path(tenant_a: Company, number_a: PhoneNumber) -> None:
    # given: accepted by the sandbox, so the message is `sent` with its wamid
    thread = ThreadFactory(phone_number=number_a, last_inbound_at=timezone.now() - timedelta(hours=30))
    message = OutboundMessageFactory(thread=thread, text="Still there?", status=Message.Status.UNKNOWN, status_rank=1)
    accepted = SandboxProvider().send(message)
    Message.objects.filter(pk=message.pk).update(
        wamid=accepted.wamid, status=Message.Status.SENT, status_rank=Message.STATUS_RANK[Message.Status.SENT]
    )
    # when
    _process_fed()
    # then
    message.refresh_from_db()
    assert (message.status, message.error_code, message.error_title) == ("failed", 131047, "Re-engagement message")


def test_marketing_to_a_customer_who_stopped_marketing_fails_131050_after_acceptance(
    alice: Persona, open_thread: Thread
) -> None:
    # given: queued before the customer stopped marketing in WhatsApp
    template = TemplateFactory(category=Template.Category.MARKETING)
    message = messages.message_send(thread=open_thread, sender=alice.user, type="template", template=template)
    contacts.consent_record(contact=open_thread.contact, action="opt_out", purpose="marketing", source="agent")
    # when
    _deliver(message)
    message.refresh_from_db()
    sent_status = message.status
    _process_fed()
    # then
    message.refresh_from_db()
    assert sent_status == Message.Status.SENT
    assert (message.status, message.error_code) == (Message.Status.FAILED, 131050)
    assert [s["status"] for s in _fed_statuses()] == ["failed"]
    assert ConsentEvent.objects.filter(contact=open_thread.contact).count() == 1


def test_utility_template_to_a_customer_who_stopped_marketing_goes_through(open_thread: Thread) -> None:
    # given
    template = TemplateFactory(category=Template.Category.UTILITY)
    open_thread.contact.marketing_opted_out = True
    message = OutboundMessageFactory(
        thread=open_thread, type="template", template_name=template.name, template_language=template.language
    )
    # when
    SandboxProvider().send(message)
    # then
    assert [s["status"] for s in _fed_statuses()] == ["sent", "delivered", "read"]


@pytest.mark.parametrize(
    ("status", "code"),
    [(Template.Status.REJECTED, 132001), (Template.Status.PENDING, 132001), (Template.Status.PAUSED, 132015)],
)
def test_an_unusable_template_is_refused_at_once(alice: Persona, open_thread: Thread, status: str, code: int) -> None:
    # given: approved when queued, changed before the worker sent it
    template = TemplateFactory()
    message = messages.message_send(thread=open_thread, sender=alice.user, type="template", template=template)
    Template.objects.filter(pk=template.pk).update(status=status)
    # when
    _deliver(message)
    # then
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Message.Status.FAILED, code)
    assert message.wamid is None
    assert not _fed_statuses()


def test_a_template_unknown_to_the_platform_is_refused_with_132001(open_thread: Thread) -> None:
    # given
    message = OutboundMessageFactory(thread=open_thread, type="template", template_name="gone", template_language="en")
    # when / then
    with pytest.raises(ProviderError) as excinfo:
        SandboxProvider().send(message)
    assert (excinfo.value.code, excinfo.value.retryable) == (132001, False)
