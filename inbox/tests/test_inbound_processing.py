"""Processing stored webhooks: routing, every item of a batch, types, idempotency, isolation."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from inbox.models import Contact, Message, PhoneNumber, Thread
from inbox.tests.factories import OutboundMessageFactory, ThreadFactory
from inbox.tests.webhook_payloads import (
    CUSTOMER,
    DISPLAY_A,
    DISPLAY_B,
    NUMBER_A,
    NUMBER_B,
    connect,
    envelope_build,
    message_item,
    post,
    post_and_process,
    process,
    status_item,
    text_message_item,
)
from tenants.models import Company, ProviderEvent


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


@pytest.fixture
def number_b(company_b: Company) -> PhoneNumber:
    return connect(company_b, NUMBER_B, DISPLAY_B)


def test_text_message_makes_contact_thread_and_message(
    public_client: Client, company_a: Company, number_a: PhoneNumber
) -> None:
    # given
    payload = envelope_build(
        phone_number_id=NUMBER_A,
        messages=[text_message_item(sender=CUSTOMER, text="Hallo, ist mein Tisch frei?", wamid="wamid.A1")],
        contacts=[{"profile": {"name": "Ana Pérez"}, "wa_id": CUSTOMER.lstrip("+")}],
    )
    # when
    event = post_and_process(public_client, payload)
    # then
    assert event.processed_at is not None
    assert (event.item_count, event.unrouted_count, event.error) == (1, 0, "")
    with schema_context(company_a.schema_name):
        message = Message.objects.select_related("thread__contact").get(wamid="wamid.A1")
        assert message.direction == Message.Direction.INBOUND
        assert message.status == Message.Status.RECEIVED
        assert message.text == "Hallo, ist mein Tisch frei?"
        assert message.thread.phone_number == number_a
        assert message.thread.contact.phone == CUSTOMER
        assert message.thread.contact.profile_name == "Ana Pérez"
        assert message.thread.unread_count == 1
        assert message.thread.last_inbound_at == message.provider_timestamp


def test_same_wamid_posted_many_times_makes_one_message(
    public_client: Client, company_a: Company, number_a: PhoneNumber
) -> None:
    # given
    payload = envelope_build(phone_number_id=NUMBER_A, messages=[text_message_item(sender=CUSTOMER, text="Hi",
                                                                                    wamid="wamid.DUP")])  # fmt: skip
    # when
    for _ in range(3):
        post_and_process(public_client, payload)
    # then
    assert ProviderEvent.objects.count() == 3
    with schema_context(company_a.schema_name):
        assert Message.objects.filter(wamid="wamid.DUP").count() == 1
        assert Thread.objects.get().unread_count == 1


def test_processing_the_same_event_again_changes_nothing(
    public_client: Client, company_a: Company, number_a: PhoneNumber
) -> None:
    # given
    payload = envelope_build(phone_number_id=NUMBER_A, messages=[text_message_item(sender=CUSTOMER, text="Once")])
    event = post_and_process(public_client, payload)
    ProviderEvent.objects.filter(pk=event.pk).update(processed_at=None)
    # when
    process(event)
    # then
    with schema_context(company_a.schema_name):
        assert Message.objects.count() == 1
        assert Thread.objects.get().unread_count == 1


def test_mixed_batch_applies_every_entry_change_message_and_status(
    public_client: Client, company_a: Company, company_b: Company, number_a: PhoneNumber, number_b: PhoneNumber
) -> None:
    # given: two entries; A gets three messages (one of an unknown type) and a status, B one
    # message, and a number nobody connected two items
    with schema_context(company_a.schema_name):
        sent = OutboundMessageFactory(
            accepted=True, thread=ThreadFactory(phone_number=number_a, contact__phone=CUSTOMER)
        )
    a = envelope_build(
        phone_number_id=NUMBER_A,
        messages=[
            message_item("text", {"body": "one"}, wamid="wamid.M1"),
            message_item("poll", {"question": "?"}, wamid="wamid.M2"),
            message_item("text", {"body": "three"}, sender="+4917612345678", wamid="wamid.M3"),
        ],
        statuses=[status_item(wamid=str(sent.wamid), status="delivered", recipient=CUSTOMER)],
    )
    b = envelope_build(phone_number_id=NUMBER_B, messages=[message_item("text", {"body": "for B"}, wamid="wamid.B1")])
    stranger = envelope_build(
        phone_number_id="779999999999999",
        messages=[message_item("text", {"body": "lost"}, wamid="wamid.X1")],
        statuses=[status_item(wamid="wamid.X2", status="read", recipient=CUSTOMER)],
    )
    b["entry"][0]["changes"].append(stranger["entry"][0]["changes"][0])
    payload: dict[str, Any] = {"object": "whatsapp_business_account", "entry": [a["entry"][0], b["entry"][0]]}
    # when
    event = post_and_process(public_client, payload)
    # then
    assert (event.item_count, event.unrouted_count, event.error) == (7, 2, "")
    with schema_context(company_a.schema_name):
        assert set(Message.objects.filter(direction="inbound").values_list("wamid", flat=True)) == {
            "wamid.M1", "wamid.M2", "wamid.M3"
        }  # fmt: skip
        unknown = Message.objects.get(wamid="wamid.M2")
        assert unknown.type == Message.Type.UNSUPPORTED
        assert unknown.text == "Unsupported message type: poll"
        assert Message.objects.get(pk=sent.pk).status == Message.Status.DELIVERED
        assert Contact.objects.count() == 2
    with schema_context(company_b.schema_name):
        assert list(Message.objects.values_list("wamid", flat=True)) == ["wamid.B1"]


def test_unknown_number_is_answered_200_and_counted_unrouted(public_client: Client, db: None) -> None:
    # given
    item = text_message_item(sender=CUSTOMER, text="Anyone?")
    payload = envelope_build(phone_number_id="779999999999999", messages=[item])
    # when
    event = post_and_process(public_client, payload)
    # then
    assert event.processed_at is not None
    assert (event.item_count, event.unrouted_count) == (1, 1)


def test_number_routed_to_a_never_writes_into_b(
    public_client: Client, company_a: Company, company_b: Company, number_a: PhoneNumber, number_b: PhoneNumber
) -> None:
    # given
    payload = envelope_build(phone_number_id=NUMBER_A, messages=[text_message_item(sender=CUSTOMER, text="A only")])
    # when
    post_and_process(public_client, payload)
    # then
    with schema_context(company_b.schema_name):
        assert not Message.objects.exists()
        assert not Contact.objects.exists()
    with schema_context(company_a.schema_name):
        assert Message.objects.get().text == "A only"


def test_malformed_json_is_marked_failed_without_retrying(public_client: Client, db: None) -> None:
    # when
    event = post_and_process(public_client, b'{"entry": [')
    # then
    assert event.processed_at is not None
    assert event.error.startswith("body is not JSON")


def test_one_odd_item_does_not_break_the_batch(
    public_client: Client, company_a: Company, number_a: PhoneNumber
) -> None:
    # given: an item without an id, one without a sender, one the database refuses (its
    # savepoint is rolled back alone), and a good one
    payload = envelope_build(
        phone_number_id=NUMBER_A,
        messages=[
            {"from": "4915112345678", "type": "text", "text": {"body": "no id"}},
            message_item("text", {"body": "no sender"}, sender="", wamid="wamid.NOSENDER"),
            message_item("text", {"body": "too long an id"}, wamid="wamid." + "x" * 300),
            message_item("text", {"body": "fine"}, wamid="wamid.OK"),
        ],
    )
    # when
    event = post_and_process(public_client, payload)
    # then
    assert event.processed_at is not None
    assert event.error == "1 item(s) failed; 2 malformed item(s) skipped"
    with schema_context(company_a.schema_name):
        assert list(Message.objects.values_list("wamid", flat=True)) == ["wamid.OK"]


@pytest.mark.parametrize(
    ("kind", "obj", "extra", "expected_type", "expected_text"),
    [
        ("image", {"id": "m1", "mime_type": "image/jpeg", "sha256": "x", "caption": "Receipt"}, {}, "image", "Receipt"),
        ("document", {"id": "m2", "mime_type": "application/pdf", "filename": "a.pdf"}, {}, "document", ""),
        ("audio", {"id": "m3", "mime_type": "audio/ogg; codecs=opus", "voice": True}, {}, "audio", ""),
        ("location", {"latitude": 52.52, "longitude": 13.4, "name": "Office"}, {}, "location",
         "Location: Office (52.52, 13.4)"),
        ("contacts", None, {"contacts": [{"name": {"formatted_name": "Bea"}, "phones": [{"phone": "+4930111"}]}]},
         "contacts", "Shared contact: Bea (+4930111)"),
        ("interactive", {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes please"}}, {},
         "interactive", "Yes please"),
        ("interactive", {"type": "list_reply", "list_reply": {"id": "r2", "title": "Room 2", "description": "Sea"}},
         {}, "interactive", "Room 2 (Sea)"),
        ("button", {"text": "Rebook", "payload": "rebook:AF123"}, {}, "button", "Rebook"),
        ("reaction", {"message_id": "wamid.X", "emoji": "👍"}, {}, "reaction", "Reacted 👍"),
        ("reaction", {"message_id": "wamid.X"}, {}, "reaction", "Removed a reaction"),
        ("unsupported", None, {"errors": [{"code": 131051, "title": "Message type unknown",
                                           "error_data": {"details": "Message type is not currently supported"}}]},
         "unsupported", "Unsupported message (131051: Message type is not currently supported)"),
        ("system", {"body": "Ana changed her number", "type": "user_changed_number"}, {}, "unsupported",
         "Ana changed her number"),
        ("order", {"product_items": [{}, {}]}, {}, "unsupported", "Order with 2 item(s) (not supported yet)"),
    ],
)  # fmt: skip
def test_message_types_are_stored_with_a_readable_text(
    public_client: Client,
    company_a: Company,
    number_a: PhoneNumber,
    django_capture_on_commit_callbacks: Any,
    kind: str,
    obj: Any,
    extra: dict[str, Any],
    expected_type: str,
    expected_text: str,
) -> None:
    # given
    payload = envelope_build(phone_number_id=NUMBER_A, messages=[message_item(kind, obj, wamid="wamid.T", **extra)])
    # when
    post_and_process(public_client, payload)
    # then
    with schema_context(company_a.schema_name):
        message = Message.objects.get(wamid="wamid.T")
        assert (message.type, message.text) == (expected_type, expected_text)
        if kind in ("image", "document", "audio"):
            assert message.media_id == obj["id"]
            assert message.media_status == Message.MediaStatus.PENDING
            assert message.media_mime_type == obj["mime_type"]
            assert message.media_filename == obj.get("filename", "")


def test_media_message_enqueues_the_download_after_commit(
    public_client: Client, company_a: Company, number_a: PhoneNumber, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    payload = envelope_build(
        phone_number_id=NUMBER_A, messages=[message_item("image", {"id": "m1", "mime_type": "image/png"})]
    )
    event = post(public_client, payload)
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        process(event)
    # then
    assert len(callbacks) == 1


def test_profile_name_from_contacts_updates_the_contact(
    public_client: Client, company_a: Company, number_a: PhoneNumber
) -> None:
    # given
    first = envelope_build(phone_number_id=NUMBER_A, messages=[message_item("text", {"body": "a"})],
                           contacts=[{"profile": {"name": "Ana"}, "wa_id": CUSTOMER.lstrip("+")}])  # fmt: skip
    post_and_process(public_client, first)
    second = envelope_build(phone_number_id=NUMBER_A, messages=[message_item("text", {"body": "b"})],
                            contacts=[{"profile": {"name": "Ana Pérez"}, "wa_id": CUSTOMER.lstrip("+")}])  # fmt: skip
    # when
    post_and_process(public_client, second)
    # then
    with schema_context(company_a.schema_name):
        assert Contact.objects.get().profile_name == "Ana Pérez"


def test_a_new_message_reopens_a_resolved_thread(
    public_client: Client, company_a: Company, number_a: PhoneNumber
) -> None:
    # given
    with schema_context(company_a.schema_name):
        thread = ThreadFactory(phone_number=number_a, contact__phone=CUSTOMER, status=Thread.Status.RESOLVED)
    payload = envelope_build(phone_number_id=NUMBER_A, messages=[message_item("text", {"body": "again"})])
    # when
    post_and_process(public_client, payload)
    # then
    with schema_context(company_a.schema_name):
        thread.refresh_from_db()
        assert thread.status == Thread.Status.OPEN
        assert thread.messages.count() == 1


@pytest.mark.parametrize(
    ("kind", "obj", "opens"),
    [
        ("reaction", {"message_id": "wamid.OLD", "emoji": "👍"}, True),
        ("reaction", {"message_id": "wamid.OLD"}, False),  # a reaction removed
        ("unsupported", None, False),
        ("system", {"body": "Ana changed her number", "type": "user_changed_number"}, False),
    ],
)
def test_only_a_customer_writing_opens_the_window(
    public_client: Client, company_a: Company, number_a: PhoneNumber, kind: str, obj: Any, opens: bool
) -> None:
    # given: the first item ever from this customer
    payload = envelope_build(phone_number_id=NUMBER_A, messages=[message_item(kind, obj, wamid=f"wamid.W-{kind}")])
    # when
    post_and_process(public_client, payload)
    # then
    with schema_context(company_a.schema_name):
        thread = Thread.objects.get(contact__phone=CUSTOMER)
        assert (thread.last_inbound_at is not None) is opens
