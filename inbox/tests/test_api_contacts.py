"""`/api/v1/contacts/…`: contacts and their consent ledger (design/API.md "Contacts")."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from inbox.models import ConsentEvent, Contact
from inbox.phones import PHONE_INVALID
from inbox.services import contacts as contact_services
from inbox.tests.api_helpers import Call, delete, get, patch_json, patch_with, post_json, post_with
from inbox.tests.factories import ContactFactory, LabelFactory, LabelledContactFactory, ThreadFactory
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]
CONTACT_FIELDS = {
    "id",
    "phone",
    "name",
    "attributes",
    "labels",
    "opted_in",
    "opted_out",
    "marketing_opted_out",
    "created_at",
}
# The domain, the key, the page, the labels' prefetch, and a SET search_path on entering the schema.
LIST_QUERIES = 6


# --- list -----------------------------------------------------------------------------------


def test_lists_contacts_newest_first(tenant_a: Company, api_a: Client) -> None:
    # given
    older = ContactFactory(name="Older")
    newer = ContactFactory(name="Newer")
    # when
    response = api_a.get("/api/v1/contacts/")
    # then
    assert response.status_code == 200
    body = response.json()
    assert [c["id"] for c in body["results"]] == [str(newer.public_id), str(older.public_id)]
    assert set(body) == {"results", "next", "previous"}
    assert set(body["results"][0]) == CONTACT_FIELDS


@pytest.mark.parametrize("search", ["dora", "+4915100000", "5100000"])
def test_search_matches_name_or_phone(tenant_a: Company, api_a: Client, search: str) -> None:
    # given
    dora = ContactFactory(name="Dora Explorer", phone="+491510000099")
    ContactFactory(name="Someone Else", phone="+491519999999")
    # when
    response = api_a.get("/api/v1/contacts/", {"search": search})
    # then
    assert [c["id"] for c in response.json()["results"]] == [str(dora.public_id)]


def test_label_filter(tenant_a: Company, api_a: Client) -> None:
    # given
    vip = LabelledContactFactory(labels=[LabelFactory(name="vip")])
    LabelledContactFactory(labels=[LabelFactory(name="late-payer")])
    # when
    response = api_a.get("/api/v1/contacts/", {"label": "vip"})
    # then
    assert [c["id"] for c in response.json()["results"]] == [str(vip.public_id)]


def test_pages_by_cursor(tenant_a: Company, api_a: Client) -> None:
    # given
    made = [ContactFactory() for _ in range(3)]
    # when
    first = api_a.get("/api/v1/contacts/", {"page_size": 2}).json()
    second = api_a.get(first["next"]).json()
    # then
    assert [c["id"] for c in first["results"]] == [str(made[2].public_id), str(made[1].public_id)]
    assert [c["id"] for c in second["results"]] == [str(made[0].public_id)]
    assert second["next"] is None
    assert second["previous"] is not None


@pytest.mark.parametrize("page_size", [1, 20])
def test_list_query_count_does_not_grow_with_the_page(
    tenant_a: Company,
    api_a: Client,
    django_assert_num_queries: Callable[..., AbstractContextManager[None]],
    page_size: int,
) -> None:
    # given 20 labelled contacts, and the key's last_used_at already touched
    label = LabelFactory(name="vip")
    for _ in range(20):
        LabelledContactFactory(labels=[label])
    api_a.get("/api/v1/me")
    # when / then
    with django_assert_num_queries(LIST_QUERIES):
        response = api_a.get("/api/v1/contacts/", {"page_size": page_size})
    assert len(response.json()["results"]) == page_size


def test_charlie_sees_none_of_as_contacts(tenant_a: Company, api_b: Client) -> None:
    # given
    ContactFactory()
    # when
    response = api_b.get("/api/v1/contacts/")
    # then
    assert response.status_code == 200
    assert response.json()["results"] == []


# --- create ---------------------------------------------------------------------------------


def test_creates_a_contact_with_a_normalised_phone(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # when
    response = post_json(
        api_a,
        "/api/v1/contacts/",
        {"phone": "0049 151 2345 6789", "name": "Dora", "attributes": {"city": "Berlin"}, "labels": ["vip"]},
    )
    # then
    assert response.status_code == 201
    body = response.json()
    assert body["phone"] == "+4915123456789"
    assert body["name"] == "Dora"
    assert body["attributes"] == {"city": "Berlin"}
    assert body["labels"] == ["vip"]
    assert body["opted_in"] is False
    with in_a():
        assert Contact.objects.get(public_id=body["id"]).phone == "+4915123456789"


def test_opted_in_true_is_recorded_as_an_api_opt_in(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # when
    response = post_json(api_a, "/api/v1/contacts/", {"phone": "+4915123456789", "opted_in": True})
    # then
    assert response.status_code == 201
    assert response.json()["opted_in"] is True
    with in_a():
        event = ConsentEvent.objects.get(contact__public_id=response.json()["id"])
    assert (event.action, event.purpose, event.source) == ("opt_in", "all", "api")


@pytest.mark.parametrize("phone", ["12345", "not a phone", "+1"])
def test_refuses_a_phone_that_is_not_a_number(tenant_a: Company, api_a: Client, phone: str) -> None:
    # when
    response = post_json(api_a, "/api/v1/contacts/", {"phone": phone})
    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["details"] == {"phone": [PHONE_INVALID]}


def test_refuses_a_phone_taken_and_missing_fields(tenant_a: Company, api_a: Client) -> None:
    # given
    ContactFactory(phone="+4915123456789")
    # when
    taken = post_json(api_a, "/api/v1/contacts/", {"phone": "+49 151 23456789"})
    missing = post_json(api_a, "/api/v1/contacts/", {"name": "No phone", "labels": "vip"})
    # then
    assert taken.status_code == 400
    assert taken.json()["error"]["details"] == {"phone": [contact_services.CONTACT_PHONE_TAKEN]}
    assert missing.status_code == 400
    assert set(missing.json()["error"]["details"]) == {"phone", "labels"}


def test_refuses_attributes_that_are_not_flat(tenant_a: Company, api_a: Client) -> None:
    # when
    response = post_json(api_a, "/api/v1/contacts/", {"phone": "+4915123456789", "attributes": {"a": {"b": 1}}})
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"attributes": [contact_services.ATTRIBUTES_INVALID]}


def test_malformed_json_is_invalid(tenant_a: Company, api_a: Client) -> None:
    # when
    response = api_a.post("/api/v1/contacts/", '{"phone": "+49', content_type="application/json")
    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_charlie_creates_in_his_own_company_only(
    tenant_a: Company, api_b: Client, company_b: Company, in_a: InA
) -> None:
    # when
    response = post_json(api_b, "/api/v1/contacts/", {"phone": "+4915123456789"})
    # then
    assert response.status_code == 201
    with schema_context(company_b.schema_name):
        assert Contact.objects.filter(phone="+4915123456789").exists()
    with in_a():
        assert not Contact.objects.filter(phone="+4915123456789").exists()


# --- one contact ----------------------------------------------------------------------------


def test_gets_one_contact(tenant_a: Company, api_a: Client) -> None:
    # given
    contact = LabelledContactFactory(name="Dora", labels=[LabelFactory(name="b"), LabelFactory(name="a")])
    # when
    response = api_a.get(f"/api/v1/contacts/{contact.public_id}/")
    # then
    assert response.status_code == 200
    assert response.json()["name"] == "Dora"
    assert response.json()["labels"] == ["a", "b"]


def test_unknown_contact_is_not_found(tenant_a: Company, api_a: Client) -> None:
    # when
    response = api_a.get(f"/api/v1/contacts/{uuid.uuid4()}/")
    # then
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_patch_changes_only_the_fields_sent(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given
    contact = ContactFactory(name="Dora", attributes={"city": "Berlin", "tier": "gold"})
    # when
    response = patch_json(
        api_a, f"/api/v1/contacts/{contact.public_id}/", {"attributes": {"tier": None, "zip": "10115"}, "labels": ["x"]}
    )
    # then
    assert response.status_code == 200
    assert response.json()["name"] == "Dora"
    assert response.json()["attributes"] == {"city": "Berlin", "zip": "10115"}
    assert response.json()["labels"] == ["x"]


def test_patch_refuses_an_invalid_phone(tenant_a: Company, api_a: Client) -> None:
    # given
    contact = ContactFactory()
    # when
    response = patch_json(api_a, f"/api/v1/contacts/{contact.public_id}/", {"phone": "123"})
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"phone": [PHONE_INVALID]}


def test_delete_removes_the_contact_and_its_threads(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given
    thread = ThreadFactory()
    # when
    response = api_a.delete(f"/api/v1/contacts/{thread.contact.public_id}/")
    # then
    assert response.status_code == 204
    assert response.content == b""
    with in_a():
        assert not Contact.objects.filter(pk=thread.contact.pk).exists()


@pytest.mark.parametrize("call", [get, patch_with({"name": "Hacked"}), delete], ids=["get", "patch", "delete"])
def test_charlie_gets_404_for_as_contact(tenant_a: Company, api_b: Client, in_a: InA, call: Call) -> None:
    # given
    contact = ContactFactory(name="Dora")
    # when
    response = call(api_b, f"/api/v1/contacts/{contact.public_id}/")
    # then
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    with in_a():
        assert Contact.objects.get(pk=contact.pk).name == "Dora"


# --- consent --------------------------------------------------------------------------------


def test_records_an_opt_out_and_derives_the_flags(tenant_a: Company, api_a: Client) -> None:
    # given
    contact = ContactFactory()
    path = f"/api/v1/contacts/{contact.public_id}/consent/"
    post_json(api_a, path, {"action": "opt_in", "source": "web_form"})
    # when
    response = post_json(api_a, path, {"action": "opt_out", "purpose": "marketing", "source": "call"})
    # then
    assert response.status_code == 201
    assert {k: response.json()[k] for k in ("action", "purpose", "source", "recorded_by")} == {
        "action": "opt_out",
        "purpose": "marketing",
        "source": "call",
        "recorded_by": None,
    }
    flags = api_a.get(f"/api/v1/contacts/{contact.public_id}/").json()
    assert (flags["opted_in"], flags["opted_out"], flags["marketing_opted_out"]) == (True, False, True)


def test_lists_the_ledger_newest_first(tenant_a: Company, api_a: Client) -> None:
    # given
    contact = ContactFactory()
    path = f"/api/v1/contacts/{contact.public_id}/consent/"
    post_json(api_a, path, {"action": "opt_in"})
    post_json(api_a, path, {"action": "opt_out"})
    # when
    response = api_a.get(path)
    # then
    assert response.status_code == 200
    assert [(e["action"], e["source"]) for e in response.json()["results"]] == [("opt_out", "api"), ("opt_in", "api")]


@pytest.mark.parametrize("page_size", [1, 20])
def test_ledger_query_count_does_not_grow_with_the_page(
    tenant_a: Company,
    api_a: Client,
    django_assert_num_queries: Callable[..., AbstractContextManager[None]],
    page_size: int,
) -> None:
    # given
    contact = ContactFactory()
    for _ in range(10):
        contact_services.consent_record(contact=contact, action="opt_in", source="api", recorded_by=None)
        contact_services.consent_record(contact=contact, action="opt_out", source="api", recorded_by=None)
    api_a.get("/api/v1/me")
    # when / then: domain, key, contact, its labels (contact_get), the page, plus one SET search_path per schema switch
    with django_assert_num_queries(7):
        response = api_a.get(f"/api/v1/contacts/{contact.public_id}/consent/", {"page_size": page_size})
    assert len(response.json()["results"]) == page_size


def test_consent_refuses_an_unknown_action(tenant_a: Company, api_a: Client) -> None:
    # given
    contact = ContactFactory()
    # when
    response = post_json(api_a, f"/api/v1/contacts/{contact.public_id}/consent/", {"action": "maybe"})
    # then
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"action"}


@pytest.mark.parametrize("call", [get, post_with({"action": "opt_out"})], ids=["get", "post"])
def test_charlie_gets_404_for_as_consent(tenant_a: Company, api_b: Client, in_a: InA, call: Call) -> None:
    # given
    contact = ContactFactory()
    # when
    response = call(api_b, f"/api/v1/contacts/{contact.public_id}/consent/")
    # then
    assert response.status_code == 404
    with in_a():
        assert not ConsentEvent.objects.filter(contact=contact).exists()
