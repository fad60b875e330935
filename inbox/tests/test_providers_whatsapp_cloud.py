"""The Cloud API adapter against a real local HTTP server: bodies, retries, errors, timeouts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.files.base import ContentFile

from conftest import Persona
from inbox import tasks
from inbox.models import Message, PhoneNumber, Thread
from inbox.services import messages
from inbox.tests.factories import TemplateFactory, ThreadFactory
from inbox.tests.provider_stub import Drop, Hang, ProviderStub, Reply, error_body
from inbox.tests.webhook_payloads import DISPLAY_A, NUMBER_A, connect
from tenants.models import Company


@pytest.fixture
def stub(settings: Any) -> Iterator[ProviderStub]:
    with ProviderStub.running() as running:
        settings.WHATSAPP_API_BASE = running.base_url
        settings.WHATSAPP_API_VERSION = "v25.0"
        settings.WHATSAPP_HTTP_TIMEOUT = 0.5
        yield running


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


@pytest.fixture
def open_thread(tenant_a: Company, number_a: PhoneNumber) -> Thread:
    return ThreadFactory(phone_number=number_a, contact__phone="+4915112345678", window_open=True)


def _send_and_deliver(alice: Persona, thread: Thread, **kw: Any) -> Message:
    message = messages.message_send(thread=thread, sender=alice.user, **kw)
    # apply(): runs the task here, retries included (eagerly, without waiting).
    tasks.message_deliver_task.apply(args=[message.pk])
    message.refresh_from_db()
    return message


def test_text_goes_out_in_the_cloud_api_shape(alice: Persona, open_thread: Thread, stub: ProviderStub) -> None:
    # when
    message = _send_and_deliver(alice, open_thread, type="text", text="Tisch 4 ist bereit")
    # then
    assert message.status == Message.Status.SENT
    assert message.wamid == "wamid.STUB000001"
    (request,) = stub.sends()
    assert request.path == f"/v25.0/{NUMBER_A}/messages"
    assert request.headers["Authorization"] == "Bearer token-x"
    assert request.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+4915112345678",
        "type": "text",
        "text": {"body": "Tisch 4 ist bereit", "preview_url": False},
        "biz_opaque_callback_data": str(message.public_id),
    }


def test_template_body_carries_name_language_and_parameters(
    alice: Persona, open_thread: Thread, stub: ProviderStub
) -> None:
    # given
    template = TemplateFactory(name="order_shipped", language="de")
    # when
    _send_and_deliver(alice, open_thread, type="template", template=template, template_parameters=["Ana", "A-17"])
    # then
    body = stub.sends()[0].json()
    assert body["type"] == "template"
    assert body["template"] == {
        "name": "order_shipped",
        "language": {"code": "de", "policy": "deterministic"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ana"},
                                                       {"type": "text", "text": "A-17"}]}],
    }  # fmt: skip


def test_document_is_uploaded_then_sent_by_media_id(alice: Persona, open_thread: Thread, stub: ProviderStub) -> None:
    # when
    message = _send_and_deliver(
        alice, open_thread, type="document", text="Your invoice", media=ContentFile(b"%PDF-1.4", "invoice.pdf")
    )
    # then
    assert message.status == Message.Status.SENT
    upload, send = stub.requests
    assert upload.path == f"/v25.0/{NUMBER_A}/media"
    assert b"%PDF-1.4" in upload.body
    assert send.json()["document"] == {"id": "upload-000001", "caption": "Your invoice", "filename": "invoice.pdf"}


def test_image_by_url_is_sent_as_a_link(alice: Persona, open_thread: Thread, stub: ProviderStub) -> None:
    # when
    _send_and_deliver(alice, open_thread, type="image", media="https://cdn.example.com/menu.png")
    # then
    (send,) = stub.requests
    assert send.json()["image"] == {"link": "https://cdn.example.com/menu.png"}


def test_rate_limit_is_retried_until_accepted(alice: Persona, open_thread: Thread, stub: ProviderStub) -> None:
    # given
    stub.script_sends(Reply(429, error_body(130429, "Rate limit hit")), Reply(500, {}), Reply(400, error_body(131056)))
    # when
    message = _send_and_deliver(alice, open_thread, type="text", text="Hi")
    # then
    assert len(stub.sends()) == 4
    assert message.status == Message.Status.SENT
    assert message.error_code is None


def test_transient_errors_give_up_after_six_attempts(alice: Persona, open_thread: Thread, stub: ProviderStub) -> None:
    # given
    stub.script_sends(*[Reply(503, error_body(131016, "Service unavailable"))] * 10)
    # when
    message = _send_and_deliver(alice, open_thread, type="text", text="Hi")
    # then
    assert len(stub.sends()) == 6
    assert (message.status, message.error_code) == (Message.Status.FAILED, 131016)


def test_undeliverable_fails_at_once_with_an_explanation(
    alice: Persona, open_thread: Thread, stub: ProviderStub
) -> None:
    # given
    stub.script_sends(Reply(400, error_body(131026, "Message undeliverable")))
    # when
    message = _send_and_deliver(alice, open_thread, type="text", text="Hi")
    # then
    assert len(stub.sends()) == 1
    assert message.status == Message.Status.FAILED
    assert message.error_code == 131026
    assert message.error_title == "Message undeliverable"
    assert "not a WhatsApp user" in message.error_detail


def test_marketing_stopped_fails_and_records_the_opt_out(
    alice: Persona, open_thread: Thread, stub: ProviderStub
) -> None:
    # given
    stub.script_sends(Reply(400, error_body(131050)))
    # when
    message = _send_and_deliver(alice, open_thread, type="template", template=TemplateFactory(category="marketing"))
    # then
    assert (message.status, message.error_code) == (Message.Status.FAILED, 131050)
    open_thread.contact.refresh_from_db()
    assert open_thread.contact.marketing_opted_out is True


@pytest.mark.parametrize("answer", [Hang(2.0), Drop()])
def test_lost_answer_leaves_the_outcome_unknown_and_is_not_resent(
    alice: Persona, open_thread: Thread, stub: ProviderStub, answer: Hang | Drop
) -> None:
    # given
    stub.script_sends(answer)
    # when
    message = _send_and_deliver(alice, open_thread, type="text", text="Hi")
    tasks.message_deliver_task.apply(args=[message.pk])
    # then
    message.refresh_from_db()
    assert len(stub.sends()) == 1
    assert message.status == Message.Status.UNKNOWN
    assert message.wamid is None


def test_unreachable_provider_is_retried(alice: Persona, open_thread: Thread, settings: Any) -> None:
    # given: nothing listens there, so nothing was sent
    settings.WHATSAPP_API_BASE = "http://127.0.0.1:9"
    message = messages.message_send(thread=open_thread, sender=alice.user, type="text", text="Hi")
    # when
    with pytest.raises(messages.DeliveryRetryError):
        messages.message_deliver(message_id=message.pk)
    # then
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED


# --- a number without a token, requests that never left, odd error answers ----------------------


def test_a_number_without_a_token_sends_no_authorization_and_records_the_providers_refusal(
    alice: Persona, open_thread: Thread, number_a: PhoneNumber, stub: ProviderStub
) -> None:
    # given: connected without an access token (connect_number's default)
    PhoneNumber.objects.filter(pk=number_a.pk).update(access_token="")
    stub.script_sends(Reply(401, error_body(0, "Authentication Error")))
    # when
    message = _send_and_deliver(alice, open_thread, type="text", text="Hi")
    # then: the provider saw the request, without an empty `Bearer `, and its error is recorded
    (request,) = stub.sends()
    assert "Authorization" not in request.headers
    assert (message.status, message.error_code) == (Message.Status.FAILED, 0)
    assert message.error_title == "Authentication failed"


@pytest.mark.parametrize("token", ["tok\nen-secret", "tøken-secret"])
def test_a_request_refused_before_sending_is_retried_not_unknown(
    alice: Persona, open_thread: Thread, number_a: PhoneNumber, stub: ProviderStub, token: str
) -> None:
    # given: a token no HTTP header can carry (h11's LocalProtocolError, or not ASCII)
    PhoneNumber.objects.filter(pk=number_a.pk).update(access_token=token)
    message = messages.message_send(thread=open_thread, sender=alice.user, type="text", text="Hi")
    # when
    with pytest.raises(messages.DeliveryRetryError) as excinfo:
        messages.message_deliver(message_id=message.pk)
    # then: nothing went out, so the message is queued for a retry, and the token is not shown
    message.refresh_from_db()
    assert stub.sends() == []
    assert message.status == Message.Status.QUEUED
    assert "secret" not in str(excinfo.value)


def test_the_last_attempt_of_a_request_never_sent_fails_the_message(
    alice: Persona, open_thread: Thread, number_a: PhoneNumber, stub: ProviderStub
) -> None:
    # given
    PhoneNumber.objects.filter(pk=number_a.pk).update(access_token="tok\nen")
    message = messages.message_send(thread=open_thread, sender=alice.user, type="text", text="Hi")
    # when
    messages.message_deliver(message_id=message.pk, final_attempt=True)
    # then
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.error_title == "Request not sent"
    assert "tok" not in message.error_detail


@pytest.mark.parametrize(
    ("answer", "title"),
    [(Reply(400, {"error": "Bad request"}), "Bad request"), (Reply(400, {"error": ["x"]}), "Provider error")],
)
def test_an_error_that_is_not_an_object_fails_the_message_cleanly(
    alice: Persona, open_thread: Thread, stub: ProviderStub, answer: Reply, title: str
) -> None:
    # given
    stub.script_sends(answer)
    # when
    message = _send_and_deliver(alice, open_thread, type="text", text="Hi")
    # then: failed with what the provider said, not left `unknown` by an AttributeError
    assert len(stub.sends()) == 1
    assert (message.status, message.error_code, message.error_title) == (Message.Status.FAILED, None, title)


def test_a_5xx_with_a_string_error_is_retried(alice: Persona, open_thread: Thread, stub: ProviderStub) -> None:
    # given
    stub.script_sends(Reply(502, {"error": "upstream"}))
    # when
    message = _send_and_deliver(alice, open_thread, type="text", text="Hi")
    # then
    assert len(stub.sends()) == 2
    assert message.status == Message.Status.SENT


def test_a_5xx_with_an_account_code_is_retried_as_the_contract_says(
    alice: Persona, open_thread: Thread, stub: ProviderStub
) -> None:
    # given: HTTP 503 carrying 131031 (account locked), then success
    stub.script_sends(Reply(503, error_body(131031, "Account locked")))
    # when
    message = _send_and_deliver(alice, open_thread, type="text", text="Hi")
    # then
    assert len(stub.sends()) == 2
    assert message.status == Message.Status.SENT


@pytest.mark.parametrize(("status", "code"), [(500, 131026), (429, 131047), (503, 131051), (429, 131049)])
def test_a_429_or_5xx_with_a_permanent_recipient_code_fails_at_once(
    alice: Persona, open_thread: Thread, stub: ProviderStub, status: int, code: int
) -> None:
    # given
    stub.script_sends(Reply(status, error_body(code)))
    # when
    message = _send_and_deliver(alice, open_thread, type="text", text="Hi")
    # then
    assert len(stub.sends()) == 1
    assert (message.status, message.error_code) == (Message.Status.FAILED, code)
