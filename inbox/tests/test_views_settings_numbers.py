from __future__ import annotations

from django.test import Client
from django_tenants.utils import schema_context

from conftest import Persona
from inbox.models import PhoneNumber
from inbox.services import numbers
from tenants.models import Company, PhoneNumberRoute


def test_owner_connects_a_number_and_sees_it_listed(alice_client: Client, company_a: Company) -> None:
    # when
    response = alice_client.post(
        "/settings/numbers/",
        {"phone_number_id": "770000000000123", "display_number": "+49 30 1234 5678", "access_token": "tok-secret"},
    )
    # then
    assert response.status_code == 302
    page = alice_client.get("/settings/numbers/")
    assert b"+493012345678" in page.content
    assert b"770000000000123" in page.content
    assert b"tok-secret" not in page.content
    assert PhoneNumberRoute.objects.get(phone_number_id="770000000000123").company_id == company_a.pk


def test_bad_input_is_a_form_error_and_connects_nothing(alice_client: Client) -> None:
    response = alice_client.post("/settings/numbers/", {"phone_number_id": "abc/def", "display_number": "12"})
    assert response.status_code == 400
    assert response.context["form"].errors["phone_number_id"]
    assert not PhoneNumberRoute.objects.filter(phone_number_id="abc/def").exists()


def test_a_number_of_another_company_cannot_be_connected(alice_client: Client, company_b: Company) -> None:
    # given
    numbers.phone_number_connect(company=company_b, phone_number_id="770000000000999", display_number="+4930999999")
    # when
    response = alice_client.post(
        "/settings/numbers/", {"phone_number_id": "770000000000999", "display_number": "+4930111111"}
    )
    # then
    assert response.status_code == 400
    assert response.context["form"].errors["phone_number_id"] == [numbers.PHONE_NUMBER_ID_TAKEN]
    assert PhoneNumberRoute.objects.get(phone_number_id="770000000000999").company_id == company_b.pk


def test_owner_disconnects_a_number(alice_client: Client, company_a: Company) -> None:
    # given
    number = numbers.phone_number_connect(
        company=company_a, phone_number_id="770000000000321", display_number="+4930321321"
    )
    # when
    response = alice_client.post(f"/settings/numbers/{number.public_id}/disconnect/")
    # then
    assert response.status_code == 302
    assert not PhoneNumberRoute.objects.filter(phone_number_id="770000000000321").exists()
    with schema_context(company_a.schema_name):
        assert not PhoneNumber.objects.filter(pk=number.pk).exists()


def test_charlie_cannot_disconnect_a_number_of_company_a(charlie_client: Client, company_a: Company) -> None:
    number = numbers.phone_number_connect(
        company=company_a, phone_number_id="770000000000555", display_number="+4930555555"
    )
    response = charlie_client.post(f"/settings/numbers/{number.public_id}/disconnect/")
    assert response.status_code == 404
    assert PhoneNumberRoute.objects.filter(phone_number_id="770000000000555").exists()


def test_agents_get_a_readable_403(bob_client: Client, bob: Persona) -> None:
    response = bob_client.get("/settings/numbers/")
    assert response.status_code == 403
    assert bob_client.post("/settings/numbers/", {"phone_number_id": "1", "display_number": "+4930"}).status_code == 403
