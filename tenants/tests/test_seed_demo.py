from __future__ import annotations

from io import StringIO
from typing import Any

from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import ApiKey, User
from inbox.models import CannedReply, Message, PhoneNumber
from tenants.management.commands.seed_demo import DEMO_PASSWORD, OPERATOR_EMAIL
from tenants.models import BusinessProfile, Company, OperatorAction


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--no-pool", stdout=out)
    connection.set_schema_to_public()
    return out.getvalue()


def _snapshot() -> dict[str, Any]:
    """Every row the seed may write, by schema."""
    connection.set_schema_to_public()
    companies = list(
        Company.objects.filter(slug__in=["pizzeria", "airline"]).values_list("slug", "schema_name", "plan__code")
    )
    state: dict[str, Any] = {
        "companies": sorted(companies),
        "operators": list(User.objects.filter(email=OPERATOR_EMAIL).values_list("id", "is_staff", "is_superuser")),
        "profiles": sorted(
            BusinessProfile.objects.filter(company__slug__in=["pizzeria", "airline"]).values_list(
                "company__slug", "state", "verified_display_name", "verified_at"
            )
        ),
        "audit": OperatorAction.objects.count(),
    }
    for slug, schema_name, _ in companies:
        with schema_context(schema_name):
            state[f"{slug}.users"] = sorted(User.objects.values_list("email", "role", "password"))
            state[f"{slug}.keys"] = list(ApiKey.objects.values_list("name", "prefix", "key_hash", "revoked_at"))
            state[f"{slug}.numbers"] = list(PhoneNumber.objects.values_list("phone_number_id", "display_number"))
            state[f"{slug}.messages"] = sorted(Message.objects.values_list("thread__contact__phone", "text"))
            state[f"{slug}.canned"] = sorted(CannedReply.objects.values_list("shortcut", flat=True))
    connection.set_schema_to_public()
    return state


def test_creates_demo_companies_with_logins_and_one_key_each(db: None) -> None:
    # when
    output = _seed()
    # then
    state = _snapshot()
    assert [(slug, plan) for slug, _, plan in state["companies"]] == [("airline", "enterprise"), ("pizzeria", "free")]
    assert [role for _, role, _ in state["pizzeria.users"]] == ["agent", "owner"]
    assert [email for email, _, _ in state["airline.users"]] == [
        "admin@airline.test",
        "agent@airline.test",
        "owner@airline.test",
    ]
    assert [name for name, *_ in state["pizzeria.keys"]] == ["demo"]
    assert [name for name, *_ in state["airline.keys"]] == ["demo"]
    assert state["operators"] == [(state["operators"][0][0], True, True)]
    assert output.count("API key (shown once, save it): kt_") == 2
    assert state["pizzeria.numbers"] == [("100000000000001", "+49301234567")]
    assert len(state["airline.messages"]) == 3
    assert ("+4915112345678", "Hallo! Habt ihr heute Abend noch einen Tisch für 4 frei?") in state["pizzeria.messages"]
    assert state["airline.canned"] == ["rebook", "thanks"]


def test_demo_logins_use_the_printed_password(db: None) -> None:
    # given
    _seed()
    pizzeria = Company.objects.get(slug="pizzeria")
    # when
    with schema_context(pizzeria.schema_name):
        agent = User.objects.get(email="agent@pizzeria.test")
    operator = User.objects.get(email=OPERATOR_EMAIL)
    # then
    assert agent.check_password(DEMO_PASSWORD)
    assert operator.check_password(DEMO_PASSWORD)


def test_second_run_changes_nothing_and_says_keys_exist(db: None) -> None:
    # given
    _seed()
    before = _snapshot()
    # when
    output = _seed()
    # then
    assert _snapshot() == before
    assert "shown once" not in output
    assert output.count('API key "demo" exists') == 2
    assert "create_api_key pizzeria --name NAME" in output


def test_airline_is_verified_and_the_pizzeria_is_not(db: None) -> None:
    # when
    out = _seed()
    # then
    profile = BusinessProfile.objects.get(company__slug="airline")
    assert profile.is_verified
    assert profile.verified_display_name == "Kontakt Air"
    assert not BusinessProfile.objects.filter(company__slug="pizzeria").exists()
    assert "verified as 'Kontakt Air'" in out
    assert "/verify/?phone=%2B49697654321" in out
