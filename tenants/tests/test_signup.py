from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context, schema_exists

from accounts.models import User
from tenants import services
from tenants.models import Company

VALID = {
    "company_name": "Pizza Roma",
    "slug": "pizza-roma",
    "owner_name": "Rosa Roma",
    "email": "rosa@pizza-roma.test",
    "password": "mozzarella-and-basil-7",
}


def test_form_is_shown(public_client: Client, db: None) -> None:
    # when
    response = public_client.get("/signup/")
    # then
    assert response.status_code == 200
    assert b'name="slug"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_landing_page_links_to_signup(public_client: Client, db: None) -> None:
    response = public_client.get("/")
    assert response.status_code == 200
    assert b'href="/signup/"' in response.content


def test_creates_company_on_free_plan_and_sends_owner_to_login(public_client: Client, db: None) -> None:
    # when
    response = public_client.post("/signup/", VALID)
    # then
    assert response.status_code == 302
    assert response["Location"] == "https://pizza-roma.localhost/login/?welcome=1"
    company = Company.objects.get(slug="pizza-roma")
    assert company.plan is not None
    assert company.plan.code == "free"
    with schema_context(company.schema_name):
        owner = User.objects.get()
    assert (owner.email, owner.name, owner.role) == ("rosa@pizza-roma.test", "Rosa Roma", User.Role.OWNER)


def test_owner_can_log_in_on_the_new_host(public_client: Client, db: None) -> None:
    # given
    public_client.post("/signup/", VALID)
    client = Client(HTTP_HOST="pizza-roma.localhost")
    # when
    response = client.post("/login/", {"username": VALID["email"], "password": VALID["password"]})
    # then
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slug", "www", services.SLUG_RESERVED),
        ("slug", "admin", services.SLUG_RESERVED),
        ("slug", "Pizza Roma", services.SLUG_INVALID),
        ("slug", "x", services.SLUG_INVALID),
        ("email", "not-an-email", "Enter a valid email address."),
        ("password", "12345678", "This password is too short. It must contain at least 10 characters."),
        ("company_name", "", "This field is required."),
    ],
)
def test_bad_input_gives_form_errors_and_creates_nothing(
    public_client: Client, db: None, field: str, value: str, message: str
) -> None:
    # when
    response = public_client.post("/signup/", {**VALID, field: value})
    # then
    assert response.status_code == 400
    assert message in response.context["form"].errors[field]
    assert not Company.objects.filter(slug__in=["pizza-roma", value]).exists()


def test_uppercase_subdomain_is_lowered(public_client: Client, db: None) -> None:
    response = public_client.post("/signup/", {**VALID, "slug": "Pizza-Roma"})
    assert response.status_code == 302
    assert Company.objects.filter(slug="pizza-roma").exists()


def test_taken_subdomain_is_a_form_error(public_client: Client, company_a: Company) -> None:
    # when
    response = public_client.post("/signup/", {**VALID, "slug": company_a.slug})
    # then
    assert response.status_code == 400
    assert response.context["form"].errors["slug"] == [services.SLUG_TAKEN]


def test_failure_during_provisioning_rolls_everything_back(
    public_client: Client, db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the owner cannot be written
    def broken_create(**kwargs: object) -> User:
        raise RuntimeError("boom")

    monkeypatch.setattr(User.objects, "create", broken_create)
    client = Client(HTTP_HOST="localhost", raise_request_exception=False)
    # when
    response = client.post("/signup/", VALID)
    # then
    assert response.status_code == 500
    assert not Company.objects.filter(slug="pizza-roma").exists()
    assert not schema_exists("pizza_roma")


def test_signups_are_throttled_per_address(public_client: Client, db: None, settings: object) -> None:
    # given
    settings.SIGNUP_RATE_PER_HOUR = 1  # type: ignore[attr-defined]
    public_client.post("/signup/", VALID)
    # when
    response = public_client.post("/signup/", {**VALID, "slug": "second-shop"})
    # then
    assert response.status_code == 429
    assert b"Too many sign-ups" in response.content
    assert not Company.objects.filter(slug="second-shop").exists()
