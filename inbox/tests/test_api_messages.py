"""`/api/v1/messages/…`: sending and reading messages (design/API.md "Messages").

The provider is never called here: a send answers 202 with the message `queued` and only
enqueues delivery after commit (inbox/services/messages.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django_tenants.utils import schema_context

from billing.tests.fixtures import plan_limits_lifted  # noqa: F401 - the fixture
from inbox import tasks
from inbox.api.messages import (
    FROM_NOT_THREADS,
    FROM_UNKNOWN,
    MEDIA_SOURCE_ONE,
    RECIPIENT_ONE,
    UPLOAD_GONE,
    UPLOAD_IS_CSV,
    UPLOAD_UNKNOWN,
)
from inbox.models import Contact, MediaUpload, Message, PhoneNumber, Template
from inbox.phones import PHONE_INVALID
from inbox.services import messages as message_services
from inbox.services import numbers
from inbox.tests.api_helpers import post_json
from inbox.tests.factories import ContactFactory, MessageFactory, TemplateFactory, ThreadFactory
from inbox.tests.media_samples import PDF, PNG
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]
CaptureOnCommit = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]


def _error(response: Any) -> dict[str, Any]:
    return response.json()["error"]  # type: ignore[no-any-return]


# --- text -----------------------------------------------------------------------------------


def test_sends_text_in_an_open_window(
    tenant_a: Company, api_a: Client, in_a: InA, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    # given
    thread = ThreadFactory(window_open=True)
    # when
    with django_capture_on_commit_callbacks() as enqueued:
        response = post_json(
            api_a, "/api/v1/messages/", {"thread": str(thread.public_id), "type": "text", "text": "Hi"}
        )
    # then
    assert response.status_code == 202
    body = response.json()
    assert (body["thread"], body["direction"], body["type"], body["text"], body["status"]) == (
        str(thread.public_id),
        "outbound",
        "text",
        "Hi",
        "queued",
    )
    assert body["sent_by"] is None
    assert len(enqueued) == 1
    with in_a():
        assert Message.objects.get(public_id=body["id"]).status == Message.Status.QUEUED


def test_text_outside_the_window_is_window_closed(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given
    thread = ThreadFactory(last_inbound_at=None)
    # when
    response = post_json(api_a, "/api/v1/messages/", {"thread": str(thread.public_id), "type": "text", "text": "Hi"})
    # then
    assert response.status_code == 409
    assert _error(response) == {"code": "window_closed", "message": message_services.WINDOW_CLOSED}
    with in_a():
        assert not Message.objects.filter(thread=thread).exists()


def test_text_needs_text(tenant_a: Company, api_a: Client) -> None:
    # given
    thread = ThreadFactory(window_open=True)
    # when
    response = post_json(api_a, "/api/v1/messages/", {"thread": str(thread.public_id), "type": "text"})
    # then
    assert response.status_code == 400
    assert set(_error(response)["details"]) == {"text"}


@pytest.mark.parametrize(
    "recipients",
    [{}, {"to": "+4915123456789", "contact": "00000000-0000-0000-0000-000000000000"}],
)
def test_needs_exactly_one_recipient(tenant_a: Company, api_a: Client, recipients: dict[str, str]) -> None:
    # when
    response = post_json(api_a, "/api/v1/messages/", {**recipients, "type": "text", "text": "Hi"})
    # then
    assert response.status_code == 400
    assert _error(response)["details"] == {"non_field_errors": [RECIPIENT_ONE]}


def test_refuses_a_to_that_is_not_a_phone_number(tenant_a: Company, api_a: Client) -> None:
    # when
    response = post_json(api_a, "/api/v1/messages/", {"to": "12", "type": "text", "text": "Hi"})
    # then
    assert response.status_code == 400
    assert _error(response)["details"] == {"to": [PHONE_INVALID]}


# --- templates ------------------------------------------------------------------------------


def test_sends_a_template_to_a_new_number_making_the_contact(
    tenant_a: Company, api_a: Client, in_a: InA, connected_number_a: PhoneNumber
) -> None:
    # given
    TemplateFactory(name="order_shipped", language="en", body="Hello {{1}}, order {{2}} shipped.")
    body = {
        "to": "0049 151 23456789",
        "type": "template",
        "template": {"name": "order_shipped", "language": "en", "parameters": ["Dora", "A-17"]},
    }
    # when
    response = post_json(api_a, "/api/v1/messages/", body)
    # then
    assert response.status_code == 202
    sent = response.json()
    assert sent["text"] == "Hello Dora, order A-17 shipped."
    assert sent["template"] == {
        "name": "order_shipped",
        "language": "en",
        "parameters": ["Dora", "A-17"],
        "category": "utility",
    }
    with in_a():
        message = Message.objects.select_related("thread__contact", "thread__phone_number").get(public_id=sent["id"])
        assert message.thread.contact.phone == "+4915123456789"
        assert message.thread.phone_number == connected_number_a


@pytest.mark.usefixtures("plan_limits_lifted")  # two numbers on a free company
def test_sends_from_a_chosen_number(
    tenant_a: Company, api_a: Client, in_a: InA, company_a: Company, connected_number_a: PhoneNumber
) -> None:
    # given a second number, and a contact
    second = numbers.phone_number_connect(
        company=company_a, phone_number_id="770000000000102", display_number="+4930 7654321", access_token="t"
    )
    contact = ContactFactory()
    TemplateFactory(name="hello", language="de")
    body = {
        "contact": str(contact.public_id),
        "from": str(second.public_id),
        "type": "template",
        "template": {"name": "hello", "language": "de"},
    }
    # when
    response = post_json(api_a, "/api/v1/messages/", body)
    # then
    assert response.status_code == 202
    with in_a():
        assert Message.objects.get(public_id=response.json()["id"]).thread.phone_number == second


def test_an_unapproved_template_is_a_conflict(
    tenant_a: Company, api_a: Client, connected_number_a: PhoneNumber
) -> None:
    # given
    contact = ContactFactory()
    TemplateFactory(name="promo", language="en", status=Template.Status.PENDING)
    body = {"contact": str(contact.public_id), "type": "template", "template": {"name": "promo", "language": "en"}}
    # when
    response = post_json(api_a, "/api/v1/messages/", body)
    # then
    assert response.status_code == 409
    assert _error(response) == {
        "code": "conflict",
        "message": message_services.TEMPLATE_NOT_APPROVED.format(name="promo", language="en"),
    }


def test_an_opted_out_contact_is_a_conflict(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given
    thread = ThreadFactory(contact=ContactFactory(opted_out=True))
    TemplateFactory(name="hello", language="en")
    body = {"thread": str(thread.public_id), "type": "template", "template": {"name": "hello", "language": "en"}}
    # when
    response = post_json(api_a, "/api/v1/messages/", body)
    # then
    assert response.status_code == 409
    assert _error(response) == {"code": "conflict", "message": message_services.OPTED_OUT}
    with in_a():
        assert not Message.objects.filter(thread=thread).exists()


def test_without_a_connected_number_a_new_recipient_is_a_conflict(tenant_a: Company, api_a: Client) -> None:
    # given
    TemplateFactory(name="hello", language="en")
    body = {"to": "+4915123456789", "type": "template", "template": {"name": "hello", "language": "en"}}
    # when
    response = post_json(api_a, "/api/v1/messages/", body)
    # then
    assert response.status_code == 409
    assert _error(response) == {"code": "conflict", "message": message_services.NO_NUMBER}


def test_an_unknown_from_is_invalid(tenant_a: Company, api_a: Client, connected_number_a: PhoneNumber) -> None:
    # given
    contact = ContactFactory()
    TemplateFactory(name="hello", language="en")
    body = {
        "contact": str(contact.public_id),
        "from": str(uuid.uuid4()),
        "type": "template",
        "template": {"name": "hello", "language": "en"},
    }
    # when
    response = post_json(api_a, "/api/v1/messages/", body)
    # then
    assert response.status_code == 400
    assert _error(response)["details"] == {"from": [FROM_UNKNOWN]}


def test_a_thread_with_its_own_number_as_from_is_sent(
    tenant_a: Company, api_a: Client, in_a: InA, connected_number_a: PhoneNumber
) -> None:
    # given a thread on the connected number
    thread = ThreadFactory(phone_number=connected_number_a, window_open=True)
    body = {"thread": str(thread.public_id), "from": str(connected_number_a.public_id), "type": "text", "text": "Hi"}
    # when
    response = post_json(api_a, "/api/v1/messages/", body)
    # then
    assert response.status_code == 202
    assert response.json()["thread"] == str(thread.public_id)
    with in_a():
        assert Message.objects.get(public_id=response.json()["id"]).thread == thread


@pytest.mark.usefixtures("plan_limits_lifted")  # two numbers on a free company
def test_a_thread_with_another_number_as_from_is_invalid(
    tenant_a: Company, api_a: Client, in_a: InA, company_a: Company, connected_number_a: PhoneNumber
) -> None:
    # given a thread on the first number, and a second number
    thread = ThreadFactory(phone_number=connected_number_a, window_open=True)
    second = numbers.phone_number_connect(
        company=company_a, phone_number_id="770000000000102", display_number="+4930 7654321", access_token="t"
    )
    body = {"thread": str(thread.public_id), "from": str(second.public_id), "type": "text", "text": "Hi"}
    # when
    response = post_json(api_a, "/api/v1/messages/", body)
    # then
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid"
    assert _error(response)["details"] == {"from": [FROM_NOT_THREADS]}
    with in_a():
        assert not Message.objects.filter(thread=thread).exists()


# --- media ----------------------------------------------------------------------------------


def test_sends_an_image_by_url_with_a_caption(tenant_a: Company, api_a: Client) -> None:
    # given
    thread = ThreadFactory(window_open=True)
    body = {
        "thread": str(thread.public_id),
        "type": "image",
        "media": {"url": "https://cdn.example.com/menu.png", "caption": "Today's menu"},
    }
    # when
    response = post_json(api_a, "/api/v1/messages/", body)
    # then
    assert response.status_code == 202
    sent = response.json()
    assert (sent["type"], sent["text"]) == ("image", "Today's menu")
    assert sent["media"]["filename"] == "menu.png"
    assert sent["media"]["caption"] == "Today's menu"


def test_media_sent_by_url_shows_that_url(tenant_a: Company, api_a: Client) -> None:
    # given an image sent by URL
    thread = ThreadFactory(window_open=True)
    url = "https://cdn.example.com/menu.png?v=2"
    body = {"thread": str(thread.public_id), "type": "image", "media": {"url": url}}
    sent = post_json(api_a, "/api/v1/messages/", body).json()
    # when it is read back alone and in its thread's page
    detail = api_a.get(f"/api/v1/messages/{sent['id']}/").json()
    page = api_a.get(f"/api/v1/threads/{thread.public_id}/messages/").json()["results"]
    # then each names the URL it was sent by
    assert sent["media"]["url"] == detail["media"]["url"] == url
    assert [item["media"]["url"] for item in page] == [url]


def test_inbound_media_not_downloaded_yet_has_no_url(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given a received image whose download is pending (its payload names no link of ours)
    with in_a():
        message = MessageFactory(
            direction=Message.Direction.INBOUND,
            type=Message.Type.IMAGE,
            media_id="wa-media-1",
            media_status=Message.MediaStatus.PENDING,
            payload={"id": "wa-media-1", "link": "https://lookaside.example/x"},
        )
    # when
    detail = api_a.get(f"/api/v1/messages/{message.public_id}/").json()
    page = api_a.get(f"/api/v1/threads/{message.thread.public_id}/messages/").json()["results"]
    # then
    assert detail["media"]["url"] is None
    assert page[0]["media"]["url"] is None


@pytest.mark.parametrize(
    ("media", "details"),
    [
        ({"upload_id": "abc"}, {"media.upload_id": ["Must be a valid UUID."]}),
        ({"caption": "no file"}, {"media.url": [MEDIA_SOURCE_ONE]}),
        (
            {"url": "https://cdn.example.com/a.pdf", "upload_id": str(uuid.uuid4())},
            {"media.upload_id": [MEDIA_SOURCE_ONE]},
        ),
    ],
    ids=["upload-id-not-a-uuid", "neither", "both"],
)
def test_media_needs_a_url_or_an_upload_id(
    tenant_a: Company, api_a: Client, media: dict[str, str], details: dict[str, Any]
) -> None:
    # given
    thread = ThreadFactory(window_open=True)
    # when
    response = post_json(
        api_a, "/api/v1/messages/", {"thread": str(thread.public_id), "type": "document", "media": media}
    )
    # then
    assert response.status_code == 400
    assert _error(response)["details"] == details


def test_a_document_needs_media(tenant_a: Company, api_a: Client) -> None:
    # given
    thread = ThreadFactory(window_open=True)
    # when
    response = post_json(api_a, "/api/v1/messages/", {"thread": str(thread.public_id), "type": "document"})
    # then
    assert response.status_code == 400
    assert set(_error(response)["details"]) == {"media"}


# --- read -----------------------------------------------------------------------------------


def test_gets_one_message(tenant_a: Company, api_a: Client) -> None:
    # given
    message = MessageFactory(text="Where is my order?")
    # when
    response = api_a.get(f"/api/v1/messages/{message.public_id}/")
    # then
    assert response.status_code == 200
    assert response.json()["text"] == "Where is my order?"
    assert response.json()["direction"] == "inbound"
    assert response.json()["wamid"] == message.wamid


def test_unknown_message_is_not_found(tenant_a: Company, api_a: Client) -> None:
    # when
    response = api_a.get(f"/api/v1/messages/{uuid.uuid4()}/")
    # then
    assert response.status_code == 404


# --- media uploads (`media.upload_id`) -------------------------------------------------------


def _upload(client: Client, content: bytes, name: str) -> dict[str, Any]:
    response = client.post("/api/v1/uploads/", {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 201, response.content
    return response.json()  # type: ignore[no-any-return]


def _send_upload(client: Client, thread: Any, type: str, upload_id: str, **media: str) -> Any:
    body = {"thread": str(thread.public_id), "type": type, "media": {"upload_id": upload_id, **media}}
    return post_json(client, "/api/v1/messages/", body)


@pytest.mark.parametrize(
    ("content", "name", "type", "mime_type", "extra", "filename"),
    [
        (PNG, "receipt.png", "image", "image/png", {"caption": "Your receipt"}, "receipt.png"),
        (PDF, "scan", "document", "application/pdf", {}, "scan.pdf"),
        (PDF, "scan.pdf", "document", "application/pdf", {"filename": "Invoice 42"}, "Invoice 42.pdf"),
    ],
    ids=["png-image", "pdf-document", "pdf-renamed"],
)
def test_sends_an_uploaded_file_by_its_id_with_a_copy_of_its_own(
    tenant_a: Company,
    api_a: Client,
    in_a: InA,
    content: bytes,
    name: str,
    type: str,
    mime_type: str,
    extra: dict[str, str],
    filename: str,
) -> None:
    # given
    with in_a():
        thread = ThreadFactory(window_open=True)
    upload = _upload(api_a, content, name)
    # when
    response = _send_upload(api_a, thread, type, upload["id"], **extra)
    # then
    assert response.status_code == 202
    sent = response.json()
    assert (sent["type"], sent["status"], sent["media"]["filename"]) == (type, "queued", filename)
    assert sent["media"]["caption"] == extra.get("caption", "")
    with in_a():
        message = Message.objects.get(public_id=sent["id"])
        stored = MediaUpload.objects.get(public_id=upload["id"])
        assert (message.media_mime_type, message.media_status) == (mime_type, Message.MediaStatus.READY)
        assert message.media_file.name != stored.file.name
        with message.media_file.open("rb") as copy:
            assert copy.read() == content
        assert sent["media"]["url"] == message.media_file.url
        # and the sandbox provider takes it
        tasks.message_deliver_task.run(message.pk)
        message.refresh_from_db()
        assert message.status == Message.Status.SENT


@pytest.mark.parametrize(
    ("content", "name", "type", "message"),
    [
        (
            PNG,
            "receipt.png",
            "document",
            'This upload is an image (image/png); send it as `"type": "image"`.',
        ),
        (
            PDF,
            "invoice.pdf",
            "image",
            'This upload is a document (application/pdf); send it as `"type": "document"`.',
        ),
    ],
    ids=["png-as-document", "pdf-as-image"],
)
def test_an_upload_of_the_other_kind_is_refused(
    tenant_a: Company, api_a: Client, in_a: InA, content: bytes, name: str, type: str, message: str
) -> None:
    # given
    with in_a():
        thread = ThreadFactory(window_open=True)
    upload = _upload(api_a, content, name)
    # when
    response = _send_upload(api_a, thread, type, upload["id"])
    # then
    assert response.status_code == 400
    assert _error(response)["code"] == "invalid"
    assert _error(response)["details"] == {"media.upload_id": [message]}
    with in_a():
        assert not Message.objects.exists()


def test_an_unknown_upload_id_is_refused(tenant_a: Company, api_a: Client) -> None:
    # given
    thread = ThreadFactory(window_open=True)
    # when
    response = _send_upload(api_a, thread, "image", str(uuid.uuid4()))
    # then
    assert response.status_code == 400
    assert _error(response)["details"] == {"media.upload_id": [UPLOAD_UNKNOWN.format(hours=24)]}


def test_a_csv_audience_id_is_not_a_media_upload(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given
    with in_a():
        thread = ThreadFactory(window_open=True)
    csv = api_a.post("/api/v1/uploads/", {"file": SimpleUploadedFile("people.csv", b"phone\n+4915111111101\n")}).json()
    # when
    response = _send_upload(api_a, thread, "document", csv["id"])
    # then
    assert response.status_code == 400
    assert _error(response)["details"] == {"media.upload_id": [UPLOAD_IS_CSV]}


def test_an_upload_whose_file_is_gone_is_refused(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given
    with in_a():
        thread = ThreadFactory(window_open=True)
    upload = _upload(api_a, PNG, "receipt.png")
    with in_a():
        default_storage.delete(MediaUpload.objects.get(public_id=upload["id"]).file.name)
    # when
    response = _send_upload(api_a, thread, "image", upload["id"])
    # then
    assert response.status_code == 400
    assert _error(response)["details"] == {"media.upload_id": [UPLOAD_GONE]}


def test_charlie_cannot_send_alices_upload(tenant_a: Company, api_a: Client, api_b: Client, company_b: Company) -> None:
    # given
    upload = _upload(api_a, PNG, "receipt.png")
    with schema_context(company_b.schema_name):
        thread_b = ThreadFactory(window_open=True)
    # when
    response = _send_upload(api_b, thread_b, "image", upload["id"])
    # then
    assert response.status_code == 400
    assert _error(response)["details"] == {"media.upload_id": [UPLOAD_UNKNOWN.format(hours=24)]}
    with schema_context(company_b.schema_name):
        assert not Message.objects.exists()


# --- charlie --------------------------------------------------------------------------------


def test_charlie_gets_404_for_as_message(tenant_a: Company, api_b: Client) -> None:
    # given
    message = MessageFactory()
    # when
    response = api_b.get(f"/api/v1/messages/{message.public_id}/")
    # then
    assert response.status_code == 404


@pytest.mark.parametrize("recipient", ["thread", "contact"])
def test_charlie_gets_404_sending_to_as_thread_or_contact(
    tenant_a: Company, api_b: Client, in_a: InA, company_b: Company, recipient: str
) -> None:
    # given A's thread, and a template of B's
    thread = ThreadFactory(window_open=True)
    target = thread if recipient == "thread" else thread.contact
    with schema_context(company_b.schema_name):
        TemplateFactory(name="hello", language="en")
    body = {recipient: str(target.public_id), "type": "template", "template": {"name": "hello", "language": "en"}}
    # when
    response = post_json(api_b, "/api/v1/messages/", body)
    # then
    assert response.status_code == 404
    with in_a():
        assert not Message.objects.filter(thread=thread).exists()
    with schema_context(company_b.schema_name):
        assert not Contact.objects.exists()


def test_charlie_cannot_send_from_as_number(
    tenant_a: Company, api_b: Client, company_b: Company, connected_number_a: PhoneNumber
) -> None:
    # given
    with schema_context(company_b.schema_name):
        TemplateFactory(name="hello", language="en")
    body = {
        "to": "+4915123456789",
        "from": str(connected_number_a.public_id),
        "type": "template",
        "template": {"name": "hello", "language": "en"},
    }
    # when
    response = post_json(api_b, "/api/v1/messages/", body)
    # then
    assert response.status_code == 400
    assert _error(response)["details"] == {"from": [FROM_UNKNOWN]}
