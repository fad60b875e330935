"""The usage page and `GET /api/v1/usage` (design/API.md "Usage"), and the broadcast cost estimate."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from billing.services import usage_book
from inbox.models import PhoneNumber
from inbox.services.broadcasts import broadcast_cost_estimate
from inbox.tests.factories import PhoneNumberFactory
from tenants.models import Company

DE = "+4915112345678"


def _book(company: Company, category: str, phone: str = DE, *, window_open: bool = False) -> None:
    usage_book(company=company, message_id=uuid.uuid4(), category=category, phone=phone, window_open=window_open)


def test_usage_api_has_the_contract_shape(api_b: Client, company_b: Company) -> None:
    # given globex delivered 2 marketing (DE), 1 free utility and 1 service message this month
    _book(company_b, "marketing")
    _book(company_b, "marketing")
    _book(company_b, "utility", window_open=True)
    _book(company_b, "service")
    # when
    response = api_b.get("/api/v1/usage")
    # then
    assert response.status_code == 200
    body = response.json()
    today = timezone.now().date()
    assert body["period"]["start"] == today.replace(day=1).isoformat()
    assert body["period"]["end"] >= today.isoformat()
    assert body["plan"] == "enterprise"
    assert body["currency"] == "EUR"
    assert body["by_category"] == {
        "marketing": {"count": 2, "charged": 2, "amount": "0.25"},
        "utility": {"count": 1, "charged": 0, "amount": "0.00"},
        "authentication": {"count": 0, "charged": 0, "amount": "0.00"},
        "service": {"count": 1, "charged": 0, "amount": "0.00"},
    }
    assert body["total"] == "0.25"
    assert body["limits"]["agents"] == {"used": 1, "allowed": None}
    assert body["limits"]["outgoing_webhooks"] == {"used": 0, "allowed": None}


def test_usage_api_shows_the_free_plans_limits_and_only_its_own_usage(
    api_a: Client, company_a: Company, company_b: Company
) -> None:
    _book(company_b, "marketing")
    body = api_a.get("/api/v1/usage").json()
    assert body["plan"] == "free"
    assert body["by_category"]["marketing"] == {"count": 0, "charged": 0, "amount": "0.00"}
    assert body["limits"] == {
        "agents": {"used": 2, "allowed": 3},
        "phone_numbers": {"used": 0, "allowed": 1},
        "business_initiated_per_day": {"used": 0, "allowed": 1000},
        "outgoing_webhooks": {"used": 0, "allowed": 0},
    }


def test_usage_api_needs_a_key_of_the_company(
    client_a: Client, api_client: object, charlie: object, charlie_key: object, alice: object
) -> None:
    assert client_a.get("/api/v1/usage").status_code == 401
    # charlie's key on acme's host: a key of another company is unknown there
    other = api_client(alice, charlie_key)  # type: ignore[operator]
    response = other.get("/api/v1/usage")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_usage_page_shows_categories_limits_chart_and_estimate(charlie_client: Client, company_b: Company) -> None:
    _book(company_b, "marketing")
    _book(company_b, "authentication", "+12025550123")
    response = charlie_client.get("/settings/billing/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Plan: Enterprise" in html
    assert 'data-category="marketing"' in html
    assert "0.13 EUR" in html
    assert "<svg" in html
    assert "2 delivered" in html
    assert "Upcoming invoice" in html
    assert "Enterprise plan, base fee" in html
    assert 'data-limit="agents"' in html
    assert "unlimited" in html


def test_usage_page_of_acme_does_not_show_globex_usage(alice_client: Client, company_b: Company) -> None:
    _book(company_b, "marketing")
    html = alice_client.get("/settings/billing/").content.decode()
    assert "Plan: Free" in html
    assert "0.13 EUR" not in html
    assert "Nothing to pay this month so far." in html


def test_company_names_are_escaped(charlie_client: Client, company_b: Company) -> None:
    Company.objects.filter(pk=company_b.pk).update(name="<script>x</script>")
    html = charlie_client.get("/settings/billing/").content.decode()
    assert "<script>x</script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html


def test_broadcast_cost_estimate_uses_the_rate_card(tenant_b: Company) -> None:
    PhoneNumberFactory(display_number="+4930123456")
    estimate = broadcast_cost_estimate(category="marketing", count=1000)
    assert estimate["currency"] == "EUR"
    assert estimate["total"] == "127.00"
    assert estimate["by_category"]["marketing"]["count"] == 1000
    assert estimate["by_category"]["marketing"]["amount"] == "127.00"
    assert "placeholder" not in estimate


def test_broadcast_cost_estimate_on_the_free_plan_is_zero(tenant_a: Company) -> None:
    assert not PhoneNumber.objects.exists()
    estimate = broadcast_cost_estimate(category="marketing", count=200)
    assert estimate["total"] == "0.00"
    assert Decimal(estimate["unit_price"]) == 0
