"""message_retry: a failed message is sent again as a new message, under the same rules."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from conftest import Persona
from inbox import tasks
from inbox.errors import ContactOptedOutError, MessageNotRetryableError, TemplateNotApprovedError, WindowClosedError
from inbox.models import Contact, Message, PhoneNumber, Template, Thread
from inbox.services import messages
from inbox.tests.factories import MessageFactory, OutboundMessageFactory, TemplateFactory, ThreadFactory
from inbox.tests.webhook_payloads import DISPLAY_A, NUMBER_A, connect
from tenants.models import Company, ProviderEvent


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


@pytest.fixture
def open_thread(tenant_a: Company, number_a: PhoneNumber) -> Thread:
    return ThreadFactory(phone_number=number_a, window_open=True)


@pytest.fixture
def closed_thread(tenant_a: Company, number_a: PhoneNumber) -> Thread:
    return ThreadFactory(phone_number=number_a, last_inbound_at=timezone.now() - timedelta(hours=30))


def _failed(thread: Thread, code: int = 131000, **fields: Any) -> Message:
    fields.setdefault("status_at", timezone.now())
    return OutboundMessageFactory(thread=thread, status=Message.Status.FAILED, status_rank=5, error_code=code, **fields)


def _deliver(message: Message) -> None:
    tasks.message_deliver_task.run(*json.loads(json.dumps([message.pk])))


def test_a_failed_text_is_queued_again_as_a_new_message(
    alice: Persona, open_thread: Thread, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    failed = _failed(open_thread, text="Your table is ready", context_wamid="wamid.CTX")
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        retry = messages.message_retry(message=failed, sender=alice.user)
    # then
    assert len(callbacks) == 1
    assert retry.pk != failed.pk
    assert (retry.status, retry.type, retry.text) == (Message.Status.QUEUED, "text", "Your table is ready")
    assert (retry.thread, retry.sent_by, retry.context_wamid) == (open_thread, alice.user, "wamid.CTX")
    assert retry.payload["retry_of"] == str(failed.public_id)
    failed.refresh_from_db()
    assert (failed.status, failed.error_code) == (Message.Status.FAILED, 131000)
    assert failed.payload["retried_as"] == str(retry.public_id)


def test_the_retry_really_goes_to_the_provider(alice: Persona, open_thread: Thread) -> None:
    # given
    failed = _failed(open_thread, text="Hi")
    retry = messages.message_retry(message=failed, sender=alice.user)
    # when
    _deliver(retry)
    # then
    retry.refresh_from_db()
    assert retry.status == Message.Status.SENT
    assert retry.wamid is not None
    assert ProviderEvent.objects.count() == 3


def test_free_form_needs_the_window_again(alice: Persona, closed_thread: Thread) -> None:
    # given: failed with 131047, and the customer has not written since
    failed = _failed(closed_thread, code=131047, text="Hi")
    # when / then
    with pytest.raises(WindowClosedError):
        messages.message_retry(message=failed, sender=alice.user)
    failed.refresh_from_db()
    assert "retried_as" not in failed.payload
    assert Message.objects.filter(thread=closed_thread).count() == 1


def test_a_template_is_copied_and_goes_out_of_the_window(alice: Persona, closed_thread: Thread) -> None:
    # given
    template = TemplateFactory(name="order_shipped", body="Hello {{1}}, order {{2}} shipped.")
    failed = _failed(closed_thread, type="template", template_name=template.name, template_language="en",
                     template_parameters=["Ana", "A-17"], text="Hello Ana, order A-17 shipped.")  # fmt: skip
    # when
    retry = messages.message_retry(message=failed, sender=alice.user)
    # then
    assert (retry.template_name, retry.template_language) == ("order_shipped", "en")
    assert retry.template_parameters == ["Ana", "A-17"]
    assert retry.text == "Hello Ana, order A-17 shipped."


def test_a_template_no_longer_approved_is_refused(alice: Persona, open_thread: Thread) -> None:
    # given
    template = TemplateFactory(status=Template.Status.PAUSED)
    failed = _failed(open_thread, code=132015, type="template", template_name=template.name, template_language="en")
    # when / then
    with pytest.raises(TemplateNotApprovedError):
        messages.message_retry(message=failed, sender=alice.user)


def test_marketing_after_131050_is_refused(alice: Persona, open_thread: Thread) -> None:
    # given: the failure recorded the customer's marketing opt-out
    template = TemplateFactory(category=Template.Category.MARKETING)
    failed = _failed(open_thread, code=131050, type="template", template_name=template.name, template_language="en")
    Contact.objects.filter(pk=open_thread.contact_id).update(marketing_opted_out=True)
    open_thread.contact.refresh_from_db()
    # when / then
    with pytest.raises(ContactOptedOutError, match="marketing"):
        messages.message_retry(message=failed, sender=alice.user)


def test_131049_is_not_retried_for_24_hours(alice: Persona, open_thread: Thread) -> None:
    # given
    failed = _failed(open_thread, code=131049, text="Sale!", status_at=timezone.now() - timedelta(hours=23))
    # when / then
    with pytest.raises(MessageNotRetryableError, match="after"):
        messages.message_retry(message=failed, sender=alice.user)


def test_131049_may_be_retried_after_24_hours(alice: Persona, open_thread: Thread) -> None:
    # given
    failed = _failed(open_thread, code=131049, text="Sale!", status_at=timezone.now() - timedelta(hours=25))
    # when
    retry = messages.message_retry(message=failed, sender=alice.user)
    # then
    assert retry.status == Message.Status.QUEUED


def test_a_message_is_retried_once(alice: Persona, open_thread: Thread) -> None:
    # given
    failed = _failed(open_thread, text="Hi")
    messages.message_retry(message=failed, sender=alice.user)
    # when / then
    with pytest.raises(MessageNotRetryableError, match="already"):
        messages.message_retry(message=failed, sender=alice.user)
    assert Message.objects.filter(thread=open_thread).count() == 2


def test_a_failed_retry_can_be_retried_in_turn(alice: Persona, open_thread: Thread) -> None:
    # given
    first = _failed(open_thread, text="Hi")
    second = messages.message_retry(message=first, sender=alice.user)
    Message.objects.filter(pk=second.pk).update(status=Message.Status.FAILED, status_rank=5)
    # when
    third = messages.message_retry(message=second, sender=alice.user)
    # then
    assert third.payload["retry_of"] == str(second.public_id)


@pytest.mark.parametrize("status", [Message.Status.QUEUED, Message.Status.UNKNOWN, Message.Status.SENT])
def test_only_a_failed_message_is_retried(alice: Persona, open_thread: Thread, status: str) -> None:
    # given: `unknown` may have reached the customer: never resent blindly
    message = OutboundMessageFactory(thread=open_thread, status=status)
    # when / then
    with pytest.raises(MessageNotRetryableError, match="Only a failed"):
        messages.message_retry(message=message, sender=alice.user)


def test_an_inbound_message_is_not_retried(alice: Persona, open_thread: Thread) -> None:
    # given
    inbound = MessageFactory(thread=open_thread, status=Message.Status.FAILED)
    # when / then
    with pytest.raises(MessageNotRetryableError):
        messages.message_retry(message=inbound, sender=alice.user)


def test_a_stored_image_is_sent_again_from_the_same_file(alice: Persona, open_thread: Thread) -> None:
    # given
    sent = messages.message_send(
        thread=open_thread, sender=alice.user, type="image", text="Our menu", media=ContentFile(b"\x89PNG", "menu.png")
    )
    Message.objects.filter(pk=sent.pk).update(status=Message.Status.FAILED, status_rank=5, error_code=131053)
    # when
    retry = messages.message_retry(message=sent, sender=alice.user)
    # then
    assert retry.media_file.name == sent.media_file.name
    assert (retry.type, retry.text, retry.media_mime_type) == ("image", "Our menu", "image/png")


def test_an_image_by_link_is_sent_again_by_link(alice: Persona, open_thread: Thread) -> None:
    # given
    failed = _failed(open_thread, type="document", text="", payload={"link": "https://example.com/menu.pdf"},
                     media_filename="menu.pdf")  # fmt: skip
    # when
    retry = messages.message_retry(message=failed, sender=alice.user)
    # then
    assert retry.payload == {"link": "https://example.com/menu.pdf", "retry_of": str(failed.public_id)}
    assert (retry.media_filename, retry.media_mime_type) == ("menu.pdf", "application/pdf")
