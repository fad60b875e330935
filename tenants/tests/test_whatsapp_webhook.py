"""The provider's webhook endpoint: handshake, signature, size, store-and-enqueue.

Signature vectors are from whatsapp-platform.md §1.6 (secret `kontakt-test-app-secret`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from inbox.models import Message, PhoneNumber
from inbox.tests.webhook_payloads import (
    CUSTOMER,
    DISPLAY_A,
    NUMBER_A,
    connect,
    envelope_build,
    message_item,
    post_and_process,
    sign,
)
from tenants.inbound import InboundMessage, StatusUpdate, envelope_parse
from tenants.models import Company, ProviderEvent
from tenants.webhook import signature_valid

URL = "/webhooks/whatsapp/"
SECRET = "kontakt-test-app-secret"
EMPTY_BODY = b'{"object":"whatsapp_business_account","entry":[]}'
EMPTY_SIGNATURE = "sha256=b67b06cd7d579b6c61cca33d209ae9570d37993dd4faa17873c018bcac7096e0"
ASCII_SIGNATURE = "sha256=9903b9fabaa40b25313e1c235a3b7a6dabcdc7da2f50eaeb8a08297ee49c4df5"
UTF8_SIGNATURE = "sha256=643e792317586787aa31db9086a16e49d66bbe14f9ac073480ba0d69c3463ad1"
# The inbound example of §1.9, in its key order.
EXAMPLE: dict[str, Any] = {
    "object": "whatsapp_business_account",
    "entry": [{"id": "880000000000001", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550100001", "phone_number_id": "770000000000001"},
        "contacts": [{"profile": {"name": "Ana Pérez"}, "wa_id": "5215512345678"}],
        "messages": [{"from": "5215512345678",
                      "id": "wamid.HBgNNTIxNTUxMjM0NTY3OBUCABIYFjNFQjBBMUIyQzNENEU1RjYwNzA4MDkA",
                      "timestamp": "1767261600", "type": "text",
                      "text": {"body": "Hola, ¿mi vuelo AF123 sigue a tiempo?"}}]}}]}],
}  # fmt: skip


@pytest.fixture(autouse=True)
def _app_secret(settings: Any) -> None:
    settings.WHATSAPP_APP_SECRET = SECRET
    settings.WHATSAPP_VERIFY_TOKEN = "my-verify-token"


def _sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def _post(client: Client, body: bytes, signature: str | None) -> Any:
    headers = {"HTTP_X_HUB_SIGNATURE_256": signature} if signature is not None else {}
    return client.post(URL, data=body, content_type="application/json", **headers)


def test_handshake_echoes_the_challenge_as_plain_text(public_client: Client) -> None:
    # when
    response = public_client.get(
        URL, {"hub.mode": "subscribe", "hub.verify_token": "my-verify-token", "hub.challenge": "1158201444"}
    )
    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "my-verify-token", "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
def test_handshake_with_a_wrong_token_or_mode_is_forbidden(public_client: Client, params: dict[str, str]) -> None:
    # when
    response = public_client.get(URL, params)
    # then
    assert response.status_code == 403
    assert b"1" not in response.content


def test_signed_post_is_stored_and_processing_is_enqueued_after_commit(
    public_client: Client, db: None, django_capture_on_commit_callbacks: Any
) -> None:
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        response = _post(public_client, EMPTY_BODY, EMPTY_SIGNATURE)
    # then
    assert response.status_code == 200
    event = ProviderEvent.objects.get()
    assert bytes(event.body) == EMPTY_BODY
    assert event.signature == EMPTY_SIGNATURE
    assert event.processed_at is None
    assert len(callbacks) == 1


def test_ascii_escaped_unicode_body_is_verified_over_its_raw_bytes(public_client: Client, db: None) -> None:
    # given: the platform's wire form escapes non-ASCII characters
    body = json.dumps(EXAMPLE, separators=(",", ":"), ensure_ascii=True).encode()
    assert len(body) == 520
    # when
    response = _post(public_client, body, ASCII_SIGNATURE)
    # then
    assert response.status_code == 200
    assert bytes(ProviderEvent.objects.get().body) == body


def test_utf8_body_needs_the_signature_of_its_own_bytes(public_client: Client, db: None) -> None:
    # given: the same JSON as raw UTF-8 is other bytes, so the escaped form's signature fails
    body = json.dumps(EXAMPLE, separators=(",", ":"), ensure_ascii=False).encode()
    assert len(body) == 512
    # when
    refused = _post(public_client, body, ASCII_SIGNATURE)
    accepted = _post(public_client, body, UTF8_SIGNATURE)
    # then
    assert refused.status_code == 401
    assert accepted.status_code == 200
    assert ProviderEvent.objects.count() == 1


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        "b67b06cd7d579b6c61cca33d209ae9570d37993dd4faa17873c018bcac7096e0",
        "sha1=b67b06cd7d579b6c61cca33d209ae9570d37993dd4faa17873c018bcac7096e0",
        "sha256=not-hex",
        "sha256=" + "0" * 64,
    ],
)
def test_missing_malformed_or_wrong_signature_is_refused_and_nothing_stored(
    public_client: Client, db: None, signature: str | None
) -> None:
    # when
    response = _post(public_client, EMPTY_BODY, signature)
    # then
    assert response.status_code == 401
    assert not ProviderEvent.objects.exists()


def test_signature_with_another_secret_is_refused(public_client: Client, db: None, settings: Any) -> None:
    # given
    settings.WHATSAPP_APP_SECRET = "another-secret"
    # when
    response = _post(public_client, EMPTY_BODY, EMPTY_SIGNATURE)
    # then
    assert response.status_code == 401
    assert not ProviderEvent.objects.exists()


def test_body_over_3_mb_is_refused_with_413(public_client: Client, db: None) -> None:
    # given
    body = b'{"object":"whatsapp_business_account","entry":[],"pad":"' + b"x" * (3 * 1024 * 1024) + b'"}'
    # when
    response = _post(public_client, body, "sha256=" + "0" * 64)
    # then
    assert response.status_code == 413
    assert not ProviderEvent.objects.exists()


def test_body_just_under_3_mb_is_accepted(public_client: Client, db: None) -> None:
    # given: bigger than Django's 2.5 MB request-body default
    body = b'{"object":"whatsapp_business_account","entry":[],"pad":"' + b"x" * (3 * 1024 * 1024 - 100) + b'"}'
    signature = _sign(body)
    # when
    response = _post(public_client, body, signature)
    # then
    assert response.status_code == 200
    assert ProviderEvent.objects.count() == 1


def test_authentic_body_that_is_not_json_is_stored_and_answered_200(public_client: Client, db: None) -> None:
    # given
    body = b"{not json"
    signature = _sign(body)
    # when
    response = _post(public_client, body, signature)
    # then
    assert response.status_code == 200
    assert bytes(ProviderEvent.objects.get().body) == body


def test_other_methods_are_not_allowed(public_client: Client, db: None) -> None:
    # when
    response = public_client.put(URL, data=EMPTY_BODY, content_type="application/json")
    # then
    assert response.status_code == 405
    assert not ProviderEvent.objects.exists()


def test_the_endpoint_is_not_on_a_company_host(client_a: Client, company_a: Company) -> None:
    # when
    response = _post(client_a, EMPTY_BODY, EMPTY_SIGNATURE)
    # then
    assert response.status_code == 404
    assert not ProviderEvent.objects.exists()


def test_a_post_is_one_insert_when_the_search_path_is_kept(
    public_client: Client, db: None, settings: Any, django_assert_num_queries: Any
) -> None:
    # given: the backend skips a `SET search_path` it already issued, and a first POST set it
    settings.TENANT_LIMIT_SET_CALLS = True
    _post(public_client, EMPTY_BODY, EMPTY_SIGNATURE)
    # when / then: the public host does not switch to public again (no second SET)
    with django_assert_num_queries(1):
        response = _post(public_client, EMPTY_BODY, EMPTY_SIGNATURE)
    assert response.status_code == 200


def test_the_public_host_switches_back_after_a_company_request(
    public_client: Client, client_a: Client, company_a: Company, settings: Any
) -> None:
    # given: the connection was last used for company A
    settings.TENANT_LIMIT_SET_CALLS = True
    client_a.get("/healthz")
    # when
    response = _post(public_client, EMPTY_BODY, EMPTY_SIGNATURE)
    # then: stored in the public table, not looked for in A's schema
    assert response.status_code == 200
    assert ProviderEvent.objects.count() == 1


# --- signature ----------------------------------------------------------------------------------


@pytest.mark.parametrize("header", ["sha256=é", "sha256=" + "ä" * 64, "sha256=\u2603", "sha256=ABC\udcff"])
def test_a_non_ascii_signature_is_invalid(header: str) -> None:
    assert signature_valid(b"{}", header) is False


def test_the_right_signature_in_upper_case_is_valid() -> None:
    body = b'{"entry":[]}'
    assert signature_valid(body, sign(body).upper().replace("SHA256=", "sha256=")) is True


@pytest.mark.parametrize("header", ["sha256=é" + "0" * 63, "sha256=\u00ff"])
def test_a_non_ascii_signature_header_is_401_and_nothing_is_stored(
    public_client: Client, db: None, header: str
) -> None:
    # when: the WSGI server hands latin-1 bytes over as a str with non-ASCII characters
    response = public_client.post(
        "/webhooks/whatsapp/", data=b"{}", content_type="application/json", HTTP_X_HUB_SIGNATURE_256=header
    )
    # then
    assert response.status_code == 401
    assert not ProviderEvent.objects.exists()


# --- changes without `field` ---------------------------------------------------------------------


def _body(change: dict) -> bytes:
    return json.dumps(
        {"object": "whatsapp_business_account", "entry": [{"id": "880000000000001", "changes": [change]}]}
    ).encode()


def _value(**extra: object) -> dict:
    value = envelope_build(phone_number_id=NUMBER_A, **extra)["entry"][0]["changes"][0]["value"]
    return value


def test_a_change_without_field_is_read_as_messages() -> None:
    # given
    value = _value(
        messages=[message_item("text", {"body": "Hallo"}, wamid="wamid.NOFIELD")],
        statuses=[{"id": "wamid.OUT", "status": "delivered", "timestamp": str(int(time.time()))}],
    )
    # when
    envelope = envelope_parse(_body({"value": value}))
    # then
    assert [type(i) for i in envelope.items] == [InboundMessage, StatusUpdate]
    assert envelope.ignored == 0


@pytest.mark.parametrize("field", ["account_update", "calls", ""])
def test_a_change_with_another_field_stays_ignored(field: str) -> None:
    # given
    value = _value(messages=[message_item("text", {"body": "Hallo"})])
    # when
    envelope = envelope_parse(_body({"field": field, "value": value}))
    # then
    assert (envelope.items, envelope.ignored) == ([], 1)


# --- senders -------------------------------------------------------------------------------------


def _parse_one(**item_extra: object) -> tuple[list, int]:
    item = message_item("text", {"body": "Hallo"})
    item.update(item_extra)
    envelope = envelope_parse(_body({"field": "messages", "value": _value(messages=[item])}))
    return envelope.items, envelope.malformed


def test_a_sender_with_a_leading_plus_is_normalised() -> None:
    items, malformed = _parse_one(**{"from": "+4915112345678"})
    assert malformed == 0
    assert items[0].from_wa_id == "4915112345678"


@pytest.mark.parametrize(
    "sender", ["++4915112345678", "49+15112345678", "+49 151", "+", "", "\uff14\uff19\uff11\uff15\uff11", "49¹5"]
)
def test_a_sender_that_is_not_digits_is_still_malformed(sender: str) -> None:
    items, malformed = _parse_one(**{"from": sender})
    assert (items, malformed) == ([], 1)


def test_a_message_from_a_plus_sender_is_stored_on_the_contact(public_client: Client, company_a: Company) -> None:
    # given
    connect(company_a, NUMBER_A, DISPLAY_A)
    item = message_item("text", {"body": "Hallo"}, wamid="wamid.PLUS")
    item["from"] = CUSTOMER  # "+49…"
    # when
    event = post_and_process(public_client, envelope_build(phone_number_id=NUMBER_A, messages=[item]))
    # then
    assert event.error == ""
    with schema_context(company_a.schema_name):
        message = Message.objects.get(wamid="wamid.PLUS")
        assert message.thread.contact.phone == CUSTOMER


# --- the window's timestamp ----------------------------------------------------------------------


def test_a_message_timestamp_in_the_future_is_clamped_to_now() -> None:
    # given
    future = int(time.time()) + 3 * 24 * 3600
    # when
    before = timezone.now()
    (item,), _ = _parse_one(timestamp=str(future))
    # then
    assert before - timedelta(seconds=1) <= item.timestamp <= timezone.now()


def test_an_old_message_timestamp_is_kept() -> None:
    old = int(time.time()) - 2 * 24 * 3600
    (item,), _ = _parse_one(timestamp=str(old))
    assert item.timestamp == datetime.fromtimestamp(old, tz=UTC)


def test_a_future_timestamp_does_not_keep_the_window_open_past_24_hours(
    public_client: Client, company_a: Company
) -> None:
    # given
    number: PhoneNumber = connect(company_a, NUMBER_A, DISPLAY_A)
    item = message_item("text", {"body": "Hallo"}, wamid="wamid.FUTURE", timestamp=str(int(time.time()) + 10**6))
    # when
    post_and_process(public_client, envelope_build(phone_number_id=NUMBER_A, messages=[item]))
    # then
    with schema_context(company_a.schema_name):
        message = Message.objects.get(wamid="wamid.FUTURE")
        assert message.thread.phone_number_id == number.pk
        assert message.thread.last_inbound_at <= timezone.now()
