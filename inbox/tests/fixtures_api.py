"""Fixtures and helpers of the REST API tests (contacts, threads, messages, numbers, templates).

Test modules load them with `pytest_plugins = ["inbox.tests.fixtures_api"]`; request
helpers are in `inbox.tests.api_helpers` (a plugin module cannot be imported as well).

Requests switch the connection to the host's schema and leave it there, so a test body
that reads rows after calling another company's host re-enters the schema it means
(`with schema_context(...)`, or the `in_a` helper).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.services import IssuedApiKey
from conftest import Persona
from inbox.models import PhoneNumber
from inbox.services import numbers
from tenants.models import Company


@pytest.fixture
def api_a(api_client: Callable[..., Client], alice: Persona, alice_key: IssuedApiKey) -> Client:
    """Company A's API, with alice's key."""
    return api_client(alice, alice_key)


@pytest.fixture
def api_a_other_key(api_client: Callable[..., Client], alice: Persona, alice_other_key: IssuedApiKey) -> Client:
    """Company A's API, with A's second key."""
    return api_client(alice, alice_other_key)


@pytest.fixture
def api_b(api_client: Callable[..., Client], charlie: Persona, charlie_key: IssuedApiKey) -> Client:
    """Company B's API, with charlie's key."""
    return api_client(charlie, charlie_key)


@pytest.fixture
def in_a(company_a: Company) -> Callable[[], AbstractContextManager[None]]:
    """`with in_a():` runs a block in company A's schema (after requests moved the connection)."""
    return lambda: schema_context(company_a.schema_name)


@pytest.fixture
def connected_number_a(company_a: Company) -> PhoneNumber:
    """A number connected to company A through the real service (route included)."""
    return numbers.phone_number_connect(
        company=company_a, phone_number_id="770000000000101", display_number="+49 30 1234567", access_token="tok-a"
    )
