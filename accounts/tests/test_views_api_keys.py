from __future__ import annotations

import re

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts import services
from accounts.models import ApiKey
from conftest import Persona
from tenants.models import Company

KEY = re.compile(r"kt_[0-9a-f]{8}_[\w-]{43}")


def test_created_key_is_shown_once_then_only_its_prefix(alice_client: Client, tenant_a: Company) -> None:
    # when
    created = alice_client.post("/settings/api-keys/", {"name": "CRM sync"})
    # then
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    match = KEY.search(created.content.decode())
    assert match is not None
    key = match.group(0)
    api_key = ApiKey.objects.get(name="CRM sync")
    assert services.api_key_authenticate(key=key) == api_key
    later = alice_client.get("/settings/api-keys/").content.decode()
    assert key not in later
    assert KEY.search(later) is None
    assert f"kt_{api_key.prefix}_" in later
    assert "CRM sync" in later


def test_key_needs_a_name(alice_client: Client, tenant_a: Company) -> None:
    # when
    response = alice_client.post("/settings/api-keys/", {"name": "   "})
    # then
    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_revoking_a_key_stops_it_at_once(alice_client: Client, alice: Persona, tenant_a: Company) -> None:
    # given
    issued = services.api_key_create(name="Old script", created_by=alice.user)
    # when
    response = alice_client.post(f"/settings/api-keys/{issued.api_key.public_id}/revoke/", follow=True)
    # then
    assert response.status_code == 200
    assert "Revoked" in response.content.decode()
    assert services.api_key_authenticate(key=issued.key) is None


def test_key_list_queries_do_not_grow_with_rows(alice_client: Client, alice: Persona, tenant_a: Company) -> None:
    # given
    services.api_key_create(name="first", created_by=alice.user)
    with CaptureQueriesContext(connection) as few:
        alice_client.get("/settings/api-keys/")
    for n in range(5):
        services.api_key_create(name=f"more {n}", created_by=alice.user)
    # when
    with CaptureQueriesContext(connection) as many:
        alice_client.get("/settings/api-keys/")
    # then
    assert len(many) == len(few)


def test_agent_may_not_revoke_keys(bob_client: Client, alice: Persona, tenant_a: Company) -> None:
    # given
    issued = services.api_key_create(name="Keep me", created_by=alice.user)
    # when
    response = bob_client.post(f"/settings/api-keys/{issued.api_key.public_id}/revoke/")
    # then
    assert response.status_code == 403
    assert services.api_key_authenticate(key=issued.key) is not None


def test_charlie_gets_404_for_acme_keys(charlie_client: Client, alice: Persona, tenant_a: Company) -> None:
    # given
    issued = services.api_key_create(name="Acme only", created_by=alice.user)
    # when
    response = charlie_client.post(f"/settings/api-keys/{issued.api_key.public_id}/revoke/")
    # then
    assert response.status_code == 404
    with schema_context(tenant_a.schema_name):
        assert services.api_key_authenticate(key=issued.key) is not None
