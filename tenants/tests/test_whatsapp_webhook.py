"""The provider's webhook endpoint: handshake, signature, size, store-and-enqueue.

Signature vectors are from whatsapp-platform.md §1.6 (secret `kontakt-test-app-secret`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from django.test import Client

from tenants.models import Company, ProviderEvent

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
