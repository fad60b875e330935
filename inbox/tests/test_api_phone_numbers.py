"""`/api/v1/phone-numbers/…`: connecting the company's numbers (design/API.md "Phone numbers")."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from billing.tests.fixtures import plan_limits_lifted  # noqa: F401 - the fixture
from inbox.models import PhoneNumber
from inbox.services import numbers
from inbox.tests.api_helpers import post_json
from inbox.tests.factories import ThreadFactory
from tenants.models import Company, PhoneNumberRoute

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]
AssertNumQueries = Callable[..., AbstractContextManager[None]]
CONNECT = {"phone_number_id": "770000000000555", "display_number": "+49 30 1234567", "access_token": "secret-token"}


def test_connects_a_number_and_never_shows_the_token(
    tenant_a: Company, api_a: Client, in_a: InA, company_a: Company
) -> None:
    # when
    response = post_json(api_a, "/api/v1/phone-numbers/", CONNECT)
    # then
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "phone_number_id", "display_number", "created_at"}
    assert body["display_number"] == "+49301234567"
    assert "secret-token" not in response.content.decode()
    assert PhoneNumberRoute.objects.get(phone_number_id="770000000000555").company == company_a
    with in_a():
        assert PhoneNumber.objects.get(public_id=body["id"]).access_token == "secret-token"


def test_lists_connected_numbers_without_tokens(
    tenant_a: Company, api_a: Client, connected_number_a: PhoneNumber
) -> None:
    # given a number that is not connected (no route)
    ThreadFactory()
    # when
    response = api_a.get("/api/v1/phone-numbers/")
    # then
    assert response.status_code == 200
    assert [n["id"] for n in response.json()["results"]] == [str(connected_number_a.public_id)]
    assert "tok-a" not in response.content.decode()


@pytest.mark.usefixtures("plan_limits_lifted")  # 20 numbers on a free company
@pytest.mark.parametrize("page_size", [1, 20])
def test_list_query_count_does_not_grow_with_the_page(
    tenant_a: Company, api_a: Client, company_a: Company, django_assert_num_queries: AssertNumQueries, page_size: int
) -> None:
    # given
    for n in range(20):
        numbers.phone_number_connect(
            company=company_a, phone_number_id=f"7700000001{n:05d}", display_number=f"+49 30 12345{n:02d}"
        )
    api_a.get("/api/v1/me")
    # when / then: domain, key, the page (routes as a subquery), plus one SET search_path per schema switch
    with django_assert_num_queries(5):
        response = api_a.get("/api/v1/phone-numbers/", {"page_size": page_size})
    assert len(response.json()["results"]) == page_size


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**CONNECT, "phone_number_id": "abc/def"}, "phone_number_id"),
        ({**CONNECT, "phone_number_id": "770 000"}, "phone_number_id"),
        ({**CONNECT, "display_number": "12"}, "display_number"),
        ({"phone_number_id": "770000000000555", "display_number": "+49301234567"}, "access_token"),
    ],
)
def test_refuses_invalid_input(tenant_a: Company, api_a: Client, body: dict[str, str], field: str) -> None:
    # when
    response = post_json(api_a, "/api/v1/phone-numbers/", body)
    # then
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {field}


def test_a_number_connected_to_another_company_is_refused(
    tenant_a: Company, api_b: Client, connected_number_a: PhoneNumber
) -> None:
    # when charlie connects A's provider id
    response = post_json(api_b, "/api/v1/phone-numbers/", {**CONNECT, "phone_number_id": "770000000000101"})
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"phone_number_id": [numbers.PHONE_NUMBER_ID_TAKEN]}


def test_disconnects_a_number(tenant_a: Company, api_a: Client, connected_number_a: PhoneNumber) -> None:
    # when
    response = api_a.delete(f"/api/v1/phone-numbers/{connected_number_a.public_id}/")
    # then
    assert response.status_code == 204
    assert not PhoneNumberRoute.objects.filter(phone_number_id="770000000000101").exists()
    assert api_a.get("/api/v1/phone-numbers/").json()["results"] == []


def test_unknown_number_is_not_found(tenant_a: Company, api_a: Client) -> None:
    # when
    response = api_a.delete(f"/api/v1/phone-numbers/{uuid.uuid4()}/")
    # then
    assert response.status_code == 404


def test_charlie_gets_404_for_as_number_and_sees_none(
    tenant_a: Company, api_b: Client, company_a: Company, connected_number_a: PhoneNumber
) -> None:
    # when
    listed = api_b.get("/api/v1/phone-numbers/")
    deleted = api_b.delete(f"/api/v1/phone-numbers/{connected_number_a.public_id}/")
    # then
    assert listed.json()["results"] == []
    assert deleted.status_code == 404
    assert PhoneNumberRoute.objects.get(phone_number_id="770000000000101").company == company_a
    with schema_context(company_a.schema_name):
        assert PhoneNumber.objects.get(pk=connected_number_a.pk).access_token == "tok-a"
