"""`GET /api/v1/me`: the company and key behind the request (design/API.md)."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

from accounts.services import IssuedApiKey
from conftest import Persona
from tenants.models import Company
from tenants.tests.identity_helpers import submit, verified

ApiClient = Callable[..., Client]


def test_answers_company_and_key(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # when
    response = api_client(alice, alice_key).get("/api/v1/me")
    # then exactly the contract's fields
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "company": {"slug": "acme", "name": "Acme Pizza", "plan": "free", "verified": False},
        "key": {"name": "Alice's CRM", "prefix": alice_key.api_key.prefix},
    }


def test_charlie_sees_his_own_company(api_client: ApiClient, charlie: Persona, charlie_key: IssuedApiKey) -> None:
    # when
    response = api_client(charlie, charlie_key).get("/api/v1/me")
    # then
    assert response.status_code == 200
    assert response.json() == {
        "company": {"slug": "globex", "name": "Globex Air", "plan": "enterprise", "verified": False},
        "key": {"name": "Charlie's ERP", "prefix": charlie_key.api_key.prefix},
    }


def test_names_the_key_used(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey, alice_other_key: IssuedApiKey
) -> None:
    # when the company's second key calls
    response = api_client(alice, alice_other_key).get("/api/v1/me")
    # then
    assert response.json()["key"] == {"name": "Alice's shop", "prefix": alice_other_key.api_key.prefix}


def test_suspended_company_gets_403(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # given an operator suspended company A (rolled back with the test's transaction)
    Company.objects.filter(pk=alice.company.pk).update(status=Company.Status.SUSPENDED)
    # when
    response = api_client(alice, alice_key).get("/api/v1/me")
    # then
    assert response.status_code == 403
    assert response.json() == {
        "error": {
            "code": "company_suspended",
            "message": "This company's account is suspended. Please contact support.",
        }
    }


def test_suspending_a_leaves_b_alone(
    api_client: ApiClient, alice: Persona, charlie: Persona, charlie_key: IssuedApiKey
) -> None:
    # given
    Company.objects.filter(pk=alice.company.pk).update(status=Company.Status.SUSPENDED)
    # when
    response = api_client(charlie, charlie_key).get("/api/v1/me")
    # then
    assert response.status_code == 200
    assert response.json()["company"]["slug"] == "globex"


def test_verified_company_says_so(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # given an operator verified company A's business details
    verified(alice.company)
    # when
    response = api_client(alice, alice_key).get("/api/v1/me")
    # then
    assert response.status_code == 200
    assert response.json()["company"]["verified"] is True


def test_pending_verification_is_not_verified(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # given company A submitted its details, not verified yet
    submit(alice.company)
    # when
    response = api_client(alice, alice_key).get("/api/v1/me")
    # then
    assert response.json()["company"]["verified"] is False


def test_edited_details_withdraw_verified(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # given company A was verified, then edited its details (back to review)
    verified(alice.company)
    submit(alice.company, display_name="Acme Pizza & Pasta")
    # when
    response = api_client(alice, alice_key).get("/api/v1/me")
    # then
    assert response.json()["company"]["verified"] is False
