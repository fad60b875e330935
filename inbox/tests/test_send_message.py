"""message_send: the rules checked at send time, and delivery through the sandbox provider."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.utils import timezone

from conftest import Persona
from inbox import tasks
from inbox.errors import ContactOptedOutError, TemplateNotApprovedError, WindowClosedError
from inbox.models import Contact, Message, PhoneNumber, Template, Thread
from inbox.services import messages
from inbox.tests.factories import TemplateFactory, ThreadFactory
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


def test_text_inside_the_window_is_queued_and_delivery_enqueued(
    alice: Persona, open_thread: Thread, django_capture_on_commit_callbacks: Any
) -> None:
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        message = messages.message_send(
            thread=open_thread, sender=alice.user, type="text", text=" Your table is ready "
        )
    # then
    assert len(callbacks) == 1
    assert message.status == Message.Status.QUEUED
    assert message.text == "Your table is ready"
    assert message.sent_by == alice.user
    assert message.sender_identity == {"name": "Acme Pizza", "verified": False}
    open_thread.refresh_from_db()
    assert open_thread.last_message_preview == "Your table is ready"


@pytest.mark.parametrize(
    ("ago", "is_open"),
    [
        (timedelta(hours=23, minutes=57), True),
        (timedelta(hours=23, minutes=58, seconds=30), False),  # inside the 2-minute safety margin
        (timedelta(hours=25), False),
    ],
)
def test_window_is_enforced_with_its_safety_margin(
    alice: Persona, tenant_a: Company, number_a: PhoneNumber, ago: timedelta, is_open: bool
) -> None:
    # given
    thread = ThreadFactory(phone_number=number_a, last_inbound_at=timezone.now() - ago)
    # when
    try:
        messages.message_send(thread=thread, sender=alice.user, type="text", text="Hi")
        refused = False
    except WindowClosedError:
        refused = True
    # then
    assert refused is not is_open
    assert Message.objects.filter(thread=thread).exists() is is_open


def test_a_customer_who_never_wrote_gets_no_free_form_message(
    alice: Persona, tenant_a: Company, number_a: PhoneNumber
) -> None:
    # when / then
    with pytest.raises(WindowClosedError, match="24-hour window"):
        messages.message_send(to="+4915112345678", sender=alice.user, type="text", text="Hi")
    assert not Message.objects.exists()


def test_approved_template_goes_out_of_the_window_to_a_new_contact(
    alice: Persona, tenant_a: Company, number_a: PhoneNumber
) -> None:
    # given
    template = TemplateFactory(name="order_shipped", body="Hello {{1}}, order {{2}} shipped.")
    # when
    message = messages.message_send(
        to="0049 151 1234 5678",
        sender=alice.user,
        type="template",
        template={"name": "order_shipped", "language": "en", "parameters": ["Ana", "A-17"]},
    )
    # then
    assert message.thread.contact.phone == "+4915112345678"
    assert message.thread.phone_number == number_a
    assert (message.template_name, message.template_parameters) == ("order_shipped", ["Ana", "A-17"])
    assert message.text == "Hello Ana, order A-17 shipped."
    assert template.category == message.template_category


@pytest.mark.parametrize("status", [Template.Status.PENDING, Template.Status.REJECTED, Template.Status.PAUSED])
def test_unapproved_template_is_refused(alice: Persona, open_thread: Thread, status: str) -> None:
    # given
    template = TemplateFactory(status=status)
    # when / then
    with pytest.raises(TemplateNotApprovedError):
        messages.message_send(thread=open_thread, sender=alice.user, type="template", template=template)


def test_unknown_template_is_refused(alice: Persona, open_thread: Thread) -> None:
    with pytest.raises(TemplateNotApprovedError, match="no template"):
        messages.message_send(
            thread=open_thread, sender=alice.user, type="template", template={"name": "nope", "language": "de"}
        )


def test_opted_out_contact_gets_no_template(alice: Persona, open_thread: Thread) -> None:
    # given
    Contact.objects.filter(pk=open_thread.contact_id).update(opted_out=True)
    open_thread.contact.refresh_from_db()
    # when / then
    with pytest.raises(ContactOptedOutError):
        messages.message_send(thread=open_thread, sender=alice.user, type="template", template=TemplateFactory())


def test_marketing_opt_out_refuses_only_marketing_templates(alice: Persona, open_thread: Thread) -> None:
    # given
    Contact.objects.filter(pk=open_thread.contact_id).update(marketing_opted_out=True)
    open_thread.contact.refresh_from_db()
    # when
    utility = messages.message_send(thread=open_thread, sender=alice.user, type="template", template=TemplateFactory())
    # then
    assert utility.status == Message.Status.QUEUED
    with pytest.raises(ContactOptedOutError, match="marketing"):
        messages.message_send(thread=open_thread, sender=alice.user, type="template",
                              template=TemplateFactory(category=Template.Category.MARKETING))  # fmt: skip


def test_image_upload_is_stored_for_the_provider(alice: Persona, open_thread: Thread) -> None:
    # when
    message = messages.message_send(
        thread=open_thread, sender=alice.user, type="image", text="Our menu", media=ContentFile(b"\x89PNG", "menu.png")
    )
    # then
    assert message.media_file.name.endswith("/menu.png")
    assert (message.media_mime_type, message.text) == ("image/png", "Our menu")


def test_document_of_a_refused_type_is_invalid(alice: Persona, open_thread: Thread) -> None:
    with pytest.raises(ValidationError):
        messages.message_send(thread=open_thread, sender=alice.user, type="document",
                              media=ContentFile(b"MZ", "setup.exe"))  # fmt: skip


def test_empty_text_is_invalid(alice: Persona, open_thread: Thread) -> None:
    with pytest.raises(ValidationError):
        messages.message_send(thread=open_thread, sender=alice.user, type="text", text="  ")


def test_sandbox_delivery_records_a_wamid_and_feeds_statuses_through_the_webhook_path(
    alice: Persona, open_thread: Thread
) -> None:
    # given
    message = messages.message_send(thread=open_thread, sender=alice.user, type="text", text="Hi")
    # when
    _deliver(message)
    # then
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.wamid is not None
    assert message.wamid.startswith("wamid.")
    fed = list(ProviderEvent.objects.order_by("id"))
    assert [json.loads(bytes(e.body))["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] for e in fed] == [
        "sent", "delivered", "read"
    ]  # fmt: skip
    # and when the platform's reports are processed like any webhook
    for event in fed:
        process(event)
    message.refresh_from_db()
    assert message.status == Message.Status.READ


def test_delivery_rechecks_the_window_at_send_time(alice: Persona, open_thread: Thread) -> None:
    # given: queued while open, the window closed before the worker got to it
    message = messages.message_send(thread=open_thread, sender=alice.user, type="text", text="Hi")
    Thread.objects.filter(pk=open_thread.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    # when
    _deliver(message)
    # then
    message.refresh_from_db()
    assert (message.status, message.error_code) == (Message.Status.FAILED, 131047)
    assert not ProviderEvent.objects.exists()


def test_delivering_twice_sends_once(alice: Persona, open_thread: Thread) -> None:
    # given
    message = messages.message_send(thread=open_thread, sender=alice.user, type="text", text="Hi")
    _deliver(message)
    message.refresh_from_db()
    wamid = message.wamid
    # when
    _deliver(message)
    # then
    message.refresh_from_db()
    assert message.wamid == wamid
    assert ProviderEvent.objects.count() == 3
