"""Bearer API keys on `/api/v1/`: who gets in, who gets 401, and key bookkeeping."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts import services as account_services
from accounts.models import ApiKey
from accounts.services import IssuedApiKey, api_key_revoke
from conftest import Persona
from inbox.api.auth import MALFORMED_HEADER_MESSAGE, UNKNOWN_KEY_MESSAGE

ApiClient = Callable[..., Client]


def _assert_unauthenticated(response: Any, message: str) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"error": {"code": "unauthenticated", "message": message}}


def test_key_of_the_company_gets_in(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # when
    response = api_client(alice, alice_key).get("/api/v1/me")
    # then
    assert response.status_code == 200
    assert response.json()["key"]["prefix"] == alice_key.api_key.prefix


class _SecretsWithUnderscore:
    """`secrets`, except that token_urlsafe always holds "_"."""

    def __getattr__(self, name: str) -> Any:
        return getattr(secrets, name)

    @staticmethod
    def token_urlsafe(nbytes: int | None = None) -> str:
        return "under_score" + secrets.token_urlsafe(nbytes)[11:]


def test_key_with_underscore_in_its_secret_gets_in(
    api_client: ApiClient, alice: Persona, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a key whose random part holds "_", as about half of all keys do (base64url)
    monkeypatch.setattr(account_services, "secrets", _SecretsWithUnderscore())
    with schema_context(alice.company.schema_name):
        issued = account_services.api_key_create(name="Underscored")
    assert "_" in issued.key.split("_", 2)[2]
    # when
    response = api_client(alice, issued).get("/api/v1/me")
    # then
    assert response.status_code == 200


def test_no_key_gets_401(client_a: Client) -> None:
    # when
    response = client_a.get("/api/v1/me")
    # then
    _assert_unauthenticated(response, "Authentication credentials were not provided.")


def test_unknown_key_gets_401(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # given a key of the right form whose secret part is wrong
    forged = alice_key.key[:-1] + ("B" if alice_key.key.endswith("A") else "A")
    # when
    response = api_client(alice, HTTP_AUTHORIZATION=f"Bearer {forged}").get("/api/v1/me")
    # then
    _assert_unauthenticated(response, UNKNOWN_KEY_MESSAGE)


@pytest.mark.parametrize("header", ["Token kt_abc_def", "Bearer", "Bearer   ", "Basic YWxpY2U6c2VjcmV0"])
def test_malformed_authorization_header_gets_401(client_a: Client, header: str) -> None:
    # when
    response = client_a.get("/api/v1/me", HTTP_AUTHORIZATION=header)
    # then
    _assert_unauthenticated(response, MALFORMED_HEADER_MESSAGE)


def test_revoked_key_gets_401(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # given
    with schema_context(alice.company.schema_name):
        api_key_revoke(api_key=alice_key.api_key)
    # when
    response = api_client(alice, alice_key).get("/api/v1/me")
    # then
    _assert_unauthenticated(response, UNKNOWN_KEY_MESSAGE)


def test_charlies_key_gets_401_on_a(client_a: Client, charlie_key: IssuedApiKey) -> None:
    # when company B's key is sent to company A's host
    response = client_a.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {charlie_key.key}")
    # then A's schema has no such key
    _assert_unauthenticated(response, UNKNOWN_KEY_MESSAGE)


def test_alices_key_gets_401_on_b(client_b: Client, alice_key: IssuedApiKey) -> None:
    # when
    response = client_b.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {alice_key.key}")
    # then
    _assert_unauthenticated(response, UNKNOWN_KEY_MESSAGE)


def test_api_ignores_a_logged_in_browser_session(alice_client: Client) -> None:
    # when alice's browser (session cookie, no key) calls the API
    response = alice_client.get("/api/v1/me")
    # then a session is no API credential
    _assert_unauthenticated(response, "Authentication credentials were not provided.")


def _last_used_at(persona: Persona, key: IssuedApiKey) -> Any:
    with schema_context(persona.company.schema_name):
        return ApiKey.objects.values_list("last_used_at", flat=True).get(pk=key.api_key.pk)


def _set_last_used_at(persona: Persona, key: IssuedApiKey, ago: timedelta) -> None:
    with schema_context(persona.company.schema_name):
        ApiKey.objects.filter(pk=key.api_key.pk).update(last_used_at=timezone.now() - ago)


def test_first_use_records_last_used_at(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # given
    assert _last_used_at(alice, alice_key) is None
    before = timezone.now()
    # when
    api_client(alice, alice_key).get("/api/v1/me")
    # then
    last_used_at = _last_used_at(alice, alice_key)
    assert last_used_at is not None
    assert before <= last_used_at <= timezone.now()


def test_use_within_a_minute_does_not_write_last_used_at(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey
) -> None:
    # given the key was used 30 seconds ago
    _set_last_used_at(alice, alice_key, timedelta(seconds=30))
    recorded = _last_used_at(alice, alice_key)
    # when
    response = api_client(alice, alice_key).get("/api/v1/me")
    # then
    assert response.status_code == 200
    assert _last_used_at(alice, alice_key) == recorded


def test_use_after_a_minute_moves_last_used_at(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # given the key was last used two minutes ago
    _set_last_used_at(alice, alice_key, timedelta(minutes=2))
    before = timezone.now()
    # when
    api_client(alice, alice_key).get("/api/v1/me")
    # then
    last_used_at = _last_used_at(alice, alice_key)
    assert before <= last_used_at <= timezone.now()
