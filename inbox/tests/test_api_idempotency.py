"""`Idempotency-Key` on the API's POSTs (inbox/api/idempotency.py, design/API.md Conventions)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import ApiKey
from accounts.services import IssuedApiKey, api_key_create
from conftest import Persona
from inbox.api import idempotency
from inbox.models import Contact, IdempotencyRecord, Message, Note
from inbox.services import contacts as contact_services
from inbox.tests.api_helpers import post_json
from inbox.tests.factories import ThreadFactory
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]
CaptureOnCommit = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]
DORA = {"phone": "+4915123456789", "name": "Dora"}


def test_same_key_and_body_replays_the_first_answer_and_does_nothing_more(
    tenant_a: Company, api_a: Client, in_a: InA
) -> None:
    # given
    first = post_json(api_a, "/api/v1/contacts/", DORA, key="create-dora")
    # when
    again = post_json(api_a, "/api/v1/contacts/", {"name": "Dora", "phone": "+4915123456789"}, key="create-dora")
    # then
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    with in_a():
        assert Contact.objects.filter(phone="+4915123456789").count() == 1


def test_a_replayed_send_is_queued_once(
    tenant_a: Company, api_a: Client, in_a: InA, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    # given
    thread = ThreadFactory(window_open=True)
    body = {"thread": str(thread.public_id), "type": "text", "text": "Your table is ready"}
    # when
    with django_capture_on_commit_callbacks() as enqueued:
        first = post_json(api_a, "/api/v1/messages/", body, key="send-1")
        again = post_json(api_a, "/api/v1/messages/", body, key="send-1")
    # then
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert len(enqueued) == 1
    with in_a():
        assert Message.objects.filter(thread=thread).count() == 1


def test_same_key_with_another_body_is_a_mismatch(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given
    post_json(api_a, "/api/v1/contacts/", DORA, key="k1")
    # when
    response = post_json(api_a, "/api/v1/contacts/", {**DORA, "phone": "+4915123456780"}, key="k1")
    # then
    assert response.status_code == 422
    assert response.json() == {"error": {"code": "idempotency_mismatch", "message": idempotency.MISMATCH}}
    with in_a():
        assert not Contact.objects.filter(phone="+4915123456780").exists()


def test_same_key_on_another_endpoint_is_a_mismatch(tenant_a: Company, api_a: Client) -> None:
    # given
    thread = ThreadFactory()
    post_json(api_a, f"/api/v1/threads/{thread.public_id}/notes/", {"body": "hello"}, key="k1")
    # when
    response = post_json(api_a, "/api/v1/templates/", {"body": "hello"}, key="k1")
    # then
    assert response.status_code == 422


def test_keys_are_scoped_per_api_key(tenant_a: Company, api_a: Client, api_a_other_key: Client, in_a: InA) -> None:
    # given
    thread = ThreadFactory()
    path = f"/api/v1/threads/{thread.public_id}/notes/"
    post_json(api_a, path, {"body": "call back"}, key="same-key")
    # when the company's other key sends the same key and body
    response = post_json(api_a_other_key, path, {"body": "call back"}, key="same-key")
    # then it is a request of its own
    assert response.status_code == 201
    assert not response.has_header("Idempotent-Replayed")
    with in_a():
        assert Note.objects.filter(thread=thread).count() == 2


def test_a_key_of_255_characters_is_accepted_and_one_more_is_invalid(tenant_a: Company, api_a: Client) -> None:
    # when
    accepted = post_json(api_a, "/api/v1/contacts/", DORA, key="k" * 255)
    refused = post_json(api_a, "/api/v1/contacts/", {**DORA, "phone": "+4915123456780"}, key="k" * 256)
    # then
    assert accepted.status_code == 201
    assert refused.status_code == 400
    assert refused.json()["error"]["details"] == {"Idempotency-Key": [idempotency.KEY_TOO_LONG]}


def test_a_validation_error_is_not_stored(tenant_a: Company, api_a: Client) -> None:
    # given a first try with a bad phone
    post_json(api_a, "/api/v1/contacts/", {"phone": "123"}, key="k1")
    # when the corrected body reuses the key
    response = post_json(api_a, "/api/v1/contacts/", DORA, key="k1")
    # then it runs
    assert response.status_code == 201


def test_a_refused_send_is_replayed_as_refused(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given a send refused because the window was closed
    thread = ThreadFactory(last_inbound_at=None)
    body = {"thread": str(thread.public_id), "type": "text", "text": "Hi"}
    first = post_json(api_a, "/api/v1/messages/", body, key="k1")
    # when the customer has written since, and the same request is retried
    with in_a():
        thread.last_inbound_at = timezone.now()
        thread.save(update_fields=["last_inbound_at"])
    again = post_json(api_a, "/api/v1/messages/", body, key="k1")
    # then the first answer stands (a new key sends)
    assert first.status_code == again.status_code == 409
    assert again.json() == first.json()
    assert post_json(api_a, "/api/v1/messages/", body, key="k2").status_code == 202


def test_a_record_older_than_24_hours_is_ignored(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given
    post_json(api_a, "/api/v1/contacts/", DORA, key="old")
    with in_a():
        IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
    # when another body reuses the key
    response = post_json(api_a, "/api/v1/contacts/", {**DORA, "phone": "+4915123456780"}, key="old")
    # then it is a new request
    assert response.status_code == 201
    with in_a():
        assert IdempotencyRecord.objects.filter(key="old").count() == 1


def test_purge_deletes_records_older_than_24_hours(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given
    post_json(api_a, "/api/v1/contacts/", DORA, key="old")
    post_json(api_a, "/api/v1/contacts/", {**DORA, "phone": "+4915123456780"}, key="new")
    with in_a():
        IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))
        # when
        purged = idempotency.idempotency_records_purge()
        # then
        assert purged == 1
        assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_purge_of_all_companies_visits_each_schema(
    tenant_a: Company, api_a: Client, api_b: Client, company_b: Company, in_a: InA
) -> None:
    # given an old record in A and one in B
    post_json(api_a, "/api/v1/contacts/", DORA, key="old")
    post_json(api_b, "/api/v1/contacts/", DORA, key="old")
    past = timezone.now() - timedelta(hours=25)
    with in_a():
        IdempotencyRecord.objects.update(created_at=past)
    with schema_context(company_b.schema_name):
        IdempotencyRecord.objects.update(created_at=past)
    # when (beat runs it in the public schema)
    connection.set_schema_to_public()
    purged = idempotency.idempotency_records_purge_all_companies()
    # then
    assert purged >= 2
    with in_a():
        assert not IdempotencyRecord.objects.exists()
    with schema_context(company_b.schema_name):
        assert not IdempotencyRecord.objects.exists()


# --- concurrency: committed rows, two real connections ----------------------------------------


@pytest.fixture
def committed_key(personas: dict[str, Persona], django_db_blocker: Any) -> Iterator[IssuedApiKey]:
    """A key of company A in autocommit, so two request threads see it; the test cleans up."""
    alice = personas["alice"]
    with django_db_blocker.unblock():
        with schema_context(alice.company.schema_name):
            issued = api_key_create(name="Concurrency test", created_by=alice.user)
        try:
            yield issued
        finally:
            with schema_context(alice.company.schema_name):
                Contact.objects.filter(phone=DORA["phone"]).delete()
                IdempotencyRecord.objects.filter(api_key=issued.api_key).delete()
                ApiKey.objects.filter(pk=issued.api_key.pk).delete()
            connection.set_schema_to_public()


def test_a_concurrent_duplicate_waits_and_replays_instead_of_running(
    personas: dict[str, Persona],
    committed_key: IssuedApiKey,
    django_db_blocker: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given the first request holds its transaction open for a while after creating the contact
    alice = personas["alice"]
    original = contact_services.contact_create
    first_is_working = threading.Event()

    def slow_contact_create(**kwargs: Any) -> Contact:
        contact = original(**kwargs)
        first_is_working.set()
        time.sleep(0.5)
        return contact

    monkeypatch.setattr(contact_services, "contact_create", slow_contact_create)
    responses: dict[str, HttpResponse] = {}

    def send(name: str) -> None:
        try:
            client = Client(HTTP_HOST=alice.host, HTTP_AUTHORIZATION=f"Bearer {committed_key.key}")
            responses[name] = post_json(client, "/api/v1/contacts/", DORA, key="concurrent")
        finally:
            connection.close()

    # when a duplicate arrives while the first one is still working
    with django_db_blocker.unblock():
        first = threading.Thread(target=send, args=("first",))
        first.start()
        assert first_is_working.wait(timeout=10)
        second = threading.Thread(target=send, args=("second",))
        second.start()
        first.join(timeout=20)
        second.join(timeout=20)
        with schema_context(alice.company.schema_name):
            contacts_made = Contact.objects.filter(phone=DORA["phone"]).count()
    # then the duplicate waited for the first to commit and answered its response
    assert responses["first"].status_code == 201
    assert responses["second"].status_code == 201
    assert responses["second"].json() == responses["first"].json()
    assert responses["second"]["Idempotent-Replayed"] == "true"
    assert contacts_made == 1
