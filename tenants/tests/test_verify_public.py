"""The public check on the public host: GET /verify/ (page) and GET /api/public/verify (JSON)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from inbox.tests.webhook_payloads import DISPLAY_A, DISPLAY_B, NUMBER_A, NUMBER_B, connect
from tenants import operator, verification
from tenants.models import Company
from tenants.tests.identity_helpers import verified

UNKNOWN = "+493012345699"


@pytest.fixture
def numbers(company_a: Company, company_b: Company) -> None:
    connect(company_a, NUMBER_A, DISPLAY_A)
    connect(company_b, NUMBER_B, DISPLAY_B)


def _api(client: Client, **params: str) -> Any:
    return client.get("/api/public/verify", params)


def test_verified_number_names_the_company(public_client: Client, company_a: Company, numbers: None) -> None:
    # given
    profile = verified(company_a, display_name="Acme Pizza Berlin")
    # when
    response = _api(public_client, phone=DISPLAY_A)
    # then
    assert response.status_code == 200
    assert response.json() == {
        "phone": DISPLAY_A,
        "verified": True,
        "company": {
            "display_name": "Acme Pizza Berlin",
            "legal_name": "Acme Pizza GmbH",
            "website": "https://acme.example",
            "verified_at": profile.verified_at.isoformat().replace("+00:00", "Z"),
        },
    }


def test_phone_in_any_common_notation_is_accepted(public_client: Client, company_a: Company, numbers: None) -> None:
    # given
    verified(company_a)
    # when
    response = _api(public_client, phone="0049 30 12345601")
    # then
    assert response.json()["phone"] == DISPLAY_A
    assert response.json()["verified"] is True


def test_unverified_company_number_is_not_vouched_for(public_client: Client, numbers: None) -> None:
    # when
    response = _api(public_client, phone=DISPLAY_B)
    # then
    assert response.status_code == 200
    assert response.json() == {"phone": DISPLAY_B, "verified": False, "company": None}


def test_pending_review_after_a_rename_is_not_vouched_for(
    public_client: Client, company_a: Company, numbers: None
) -> None:
    # given
    verified(company_a)
    verification.business_profile_submit(
        company=company_a,
        submitted_by=None,
        legal_name="Acme Pizza GmbH",
        display_name="Bank of Acme",
        registration_number="HRB 12345",
        address="Berlin",
    )
    # when
    response = _api(public_client, phone=DISPLAY_A)
    # then
    assert response.json()["verified"] is False
    assert response.json()["company"] is None


def test_suspended_company_is_not_vouched_for(public_client: Client, company_a: Company, numbers: None) -> None:
    # given
    verified(company_a)
    operator.company_suspend(company=company_a, actor=None, reason="fraud reports")
    # when
    response = _api(public_client, phone=DISPLAY_A)
    # then
    assert response.json()["verified"] is False


def test_unknown_number(public_client: Client, db: None) -> None:
    # when
    response = _api(public_client, phone=UNKNOWN)
    # then
    assert response.json() == {"phone": UNKNOWN, "verified": False, "company": None}


@pytest.mark.parametrize("phone", ["", "hello", "+1", "+49 30 12"])
def test_unparsable_phone_is_400_invalid(public_client: Client, db: None, phone: str) -> None:
    # when
    response = _api(public_client, phone=phone)
    # then
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "invalid"
    assert "phone" in body["error"]["details"]


def test_missing_phone_is_400_invalid(public_client: Client, db: None) -> None:
    response = public_client.get("/api/public/verify")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_valid_token_for_this_number(public_client: Client, company_a: Company, numbers: None) -> None:
    # given
    verified(company_a)
    token = verification.verify_token_make(company=company_a, phone=DISPLAY_A)
    # when
    body = _api(public_client, phone=DISPLAY_A, token=token).json()
    # then
    assert body["verified"] is True
    assert body["token_valid"] is True


@pytest.mark.parametrize("kind", ["forged", "altered", "other_phone", "other_company"])
def test_bad_tokens_are_refused(
    public_client: Client, company_a: Company, company_b: Company, numbers: None, kind: str
) -> None:
    # given
    verified(company_a)
    good = verification.verify_token_make(company=company_a, phone=DISPLAY_A)
    token = {
        "forged": "WzEsIjQ5MzAxMjM0NTYwMSJd:1abcde:notasignatureatallnotasignatureatall",
        "altered": good.replace(good.split(":")[0], "WzIsIjQ5MzAxMjM0NTYwMSJd"),
        "other_phone": verification.verify_token_make(company=company_a, phone=DISPLAY_B),
        "other_company": verification.verify_token_make(company=company_b, phone=DISPLAY_A),
    }[kind]
    # when
    body = _api(public_client, phone=DISPLAY_A, token=token).json()
    page = public_client.get("/verify/", {"phone": DISPLAY_A, "token": token})
    # then
    assert body["token_valid"] is False
    assert body["verified"] is True  # the number itself is still the verified company's
    assert "the link you followed is not genuine" in page.content.decode()


def test_page_for_a_verified_number_with_a_valid_token(
    public_client: Client, company_a: Company, numbers: None
) -> None:
    # given
    verified(company_a, display_name="Acme <Pizza>")
    token = verification.verify_token_make(company=company_a, phone=DISPLAY_A)
    # when
    response = public_client.get("/verify/", {"phone": DISPLAY_A, "token": token})
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Verified business" in html
    assert "Acme &lt;Pizza&gt;" in html
    assert "The link you followed is genuine" in html


def test_page_for_an_unverified_number_warns(public_client: Client, numbers: None) -> None:
    response = public_client.get("/verify/", {"phone": DISPLAY_B})
    assert response.status_code == 200
    assert "Not a verified business" in response.content.decode()


def test_page_without_a_phone_shows_the_form(public_client: Client, db: None) -> None:
    response = public_client.get("/verify/")
    assert response.status_code == 200
    assert 'name="phone"' in response.content.decode()


def test_page_with_an_unparsable_phone_says_so(public_client: Client, db: None) -> None:
    response = public_client.get("/verify/", {"phone": "not a number"})
    assert response.status_code == 400
    assert "international format" in response.content.decode()


def test_checks_are_throttled_per_address(public_client: Client, db: None, settings: Any) -> None:
    # given
    settings.VERIFY_RATE_PER_MINUTE = 3
    for _ in range(3):
        assert _api(public_client, phone=UNKNOWN).status_code == 200
    # when
    api = _api(public_client, phone=UNKNOWN)
    page = public_client.get("/verify/", {"phone": UNKNOWN})
    other = Client(HTTP_HOST="localhost", REMOTE_ADDR="10.9.8.7").get("/api/public/verify", {"phone": UNKNOWN})
    # then
    assert api.status_code == 429
    assert api.json()["error"]["code"] == "rate_limited"
    assert int(api["Retry-After"]) >= 1
    assert page.status_code == 429
    assert other.status_code == 200


def test_the_check_is_not_on_company_hosts(client_a: Client) -> None:
    assert client_a.get("/api/public/verify", {"phone": DISPLAY_A}).status_code == 404


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_api_answers_other_methods_405_in_the_envelope(public_client: Client, numbers: None, method: str) -> None:
    # when
    response = getattr(public_client, method)("/api/public/verify?phone=" + DISPLAY_A)
    # then
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {"code": "method_not_allowed", "message": f'Method "{method.upper()}" not allowed.'}
    }
