"""Requests per minute per API key (ApiKeyRateThrottle)."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client
from pytest_django.fixtures import Settings

from accounts.services import IssuedApiKey
from conftest import Persona

ApiClient = Callable[..., Client]


def test_fourth_request_in_a_minute_gets_429(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey, settings: Settings
) -> None:
    # given
    settings.API_RATE_PER_MINUTE = 3
    client = api_client(alice, alice_key)
    statuses = [client.get("/api/v1/me").status_code for _ in range(3)]
    # when
    response = client.get("/api/v1/me")
    # then
    assert statuses == [200, 200, 200]
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 60


def test_another_key_of_the_company_is_unaffected(
    api_client: ApiClient,
    alice: Persona,
    alice_key: IssuedApiKey,
    alice_other_key: IssuedApiKey,
    settings: Settings,
) -> None:
    # given alice's first key used up its allowance
    settings.API_RATE_PER_MINUTE = 3
    client = api_client(alice, alice_key)
    for _ in range(4):
        client.get("/api/v1/me")
    # when
    response = api_client(alice, alice_other_key).get("/api/v1/me")
    # then
    assert response.status_code == 200


def test_charlies_key_is_unaffected_by_a(
    api_client: ApiClient,
    alice: Persona,
    alice_key: IssuedApiKey,
    charlie: Persona,
    charlie_key: IssuedApiKey,
    settings: Settings,
) -> None:
    # given
    settings.API_RATE_PER_MINUTE = 3
    client = api_client(alice, alice_key)
    for _ in range(4):
        client.get("/api/v1/me")
    # when
    response = api_client(charlie, charlie_key).get("/api/v1/me")
    # then
    assert response.status_code == 200


def test_rate_is_read_per_request(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey, settings: Settings
) -> None:
    # given the key is at a limit of 3
    settings.API_RATE_PER_MINUTE = 3
    client = api_client(alice, alice_key)
    for _ in range(3):
        client.get("/api/v1/me")
    # when the allowance is raised (as a plan change will)
    settings.API_RATE_PER_MINUTE = 5
    response = client.get("/api/v1/me")
    # then
    assert response.status_code == 200
