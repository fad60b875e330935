"""Billing fixtures: plan limits set per test (inside the test's transaction), verification."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.services import IssuedApiKey, api_key_create
from billing.models import Plan
from conftest import Persona
from inbox.models import PhoneNumber
from inbox.services import numbers
from tenants.models import BusinessProfile, Company


@pytest.fixture
def plan_set(db: None) -> Callable[..., Plan]:
    """`plan_set("free", max_agents=2)`: changes the seeded row for this test only (rolled back)."""

    def change(code: str, **fields: Any) -> Plan:
        Plan.objects.filter(code=code).update(**fields)
        return Plan.objects.get(code=code)

    return change


def verify(company: Company) -> None:
    """Marks the company verified the way an operator's decision leaves it."""
    BusinessProfile.objects.update_or_create(
        company=company,
        defaults={
            "legal_name": company.name,
            "display_name": company.name,
            "state": BusinessProfile.State.VERIFIED,
            "verified_display_name": company.name,
            "verified_at": timezone.now(),
        },
    )


@pytest.fixture
def api_client() -> Callable[..., Client]:
    """A client on the persona's company host that sends `key` as a Bearer token."""

    def make(persona: Persona, key: IssuedApiKey | None = None) -> Client:
        extra = {"HTTP_AUTHORIZATION": f"Bearer {key.key}"} if key is not None else {}
        return Client(HTTP_HOST=persona.host, **extra)

    return make


@pytest.fixture
def alice_key(alice: Persona) -> IssuedApiKey:
    with schema_context(alice.company.schema_name):
        return api_key_create(name="Alice's CRM", created_by=alice.user)


@pytest.fixture
def charlie_key(charlie: Persona) -> IssuedApiKey:
    with schema_context(charlie.company.schema_name):
        return api_key_create(name="Charlie's ERP", created_by=charlie.user)


@pytest.fixture
def api_a(api_client: Callable[..., Client], alice: Persona, alice_key: IssuedApiKey) -> Client:
    """Company A's API, with alice's key."""
    return api_client(alice, alice_key)


@pytest.fixture
def api_b(api_client: Callable[..., Client], charlie: Persona, charlie_key: IssuedApiKey) -> Client:
    """Company B's API, with charlie's key."""
    return api_client(charlie, charlie_key)


@pytest.fixture
def connected_number_a(company_a: Company) -> PhoneNumber:
    """A number connected to company A through the real service (route included)."""
    return numbers.phone_number_connect(
        company=company_a, phone_number_id="770000000000101", display_number="+49 30 1234567", access_token="tok-a"
    )
