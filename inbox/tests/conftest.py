"""API fixtures: keys made through the real service, and clients that send them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.services import IssuedApiKey, api_key_create
from conftest import Persona


def _key_for(persona: Persona, name: str) -> IssuedApiKey:
    with schema_context(persona.company.schema_name):
        return api_key_create(name=name, created_by=persona.user)


@pytest.fixture
def alice_key(alice: Persona) -> IssuedApiKey:
    """A key of company A, made by alice."""
    return _key_for(alice, "Alice's CRM")


@pytest.fixture
def alice_other_key(alice: Persona) -> IssuedApiKey:
    """A second key of company A."""
    return _key_for(alice, "Alice's shop")


@pytest.fixture
def charlie_key(charlie: Persona) -> IssuedApiKey:
    """A key of company B, made by charlie."""
    return _key_for(charlie, "Charlie's ERP")


@pytest.fixture
def api_client() -> Callable[..., Client]:
    """A client on the persona's company host that sends `key` as a Bearer token."""

    def make(persona: Persona, key: IssuedApiKey | None = None, **defaults: str) -> Client:
        if key is not None:
            defaults["HTTP_AUTHORIZATION"] = f"Bearer {key.key}"
        return Client(HTTP_HOST=persona.host, **defaults)

    return make
