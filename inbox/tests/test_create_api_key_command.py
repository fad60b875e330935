"""`manage.py create_api_key <slug> --name N` (design/ARCHITECTURE.md, operator commands)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import ApiKey
from conftest import Persona
from tenants.models import Company

KEY_PATTERN = re.compile(r"kt_[0-9a-f]{8}_[A-Za-z0-9_-]{43}")


def _key_count(company: Company) -> int:
    with schema_context(company.schema_name):
        return ApiKey.objects.count()


def test_prints_the_key_once_on_the_last_line(company_a: Company) -> None:
    # given
    out = StringIO()
    # when
    call_command("create_api_key", "acme", "--name", "Zapier", stdout=out)
    # then
    output = out.getvalue()
    key = output.splitlines()[-1]
    assert KEY_PATTERN.fullmatch(key)
    assert output.count(key) == 1
    with schema_context(company_a.schema_name):
        api_key = ApiKey.objects.get(prefix=key.split("_")[1])
    assert api_key.name == "Zapier"
    assert api_key.created_by is None


def test_printed_key_authenticates_on_the_companys_host(client_a: Client) -> None:
    # given
    out = StringIO()
    call_command("create_api_key", "acme", "--name", "Zapier", stdout=out)
    key = out.getvalue().splitlines()[-1]
    # when
    response = client_a.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}")
    # then
    assert response.status_code == 200
    assert response.json()["company"]["slug"] == "acme"
    assert response.json()["key"]["name"] == "Zapier"


def test_printed_key_gets_401_on_another_company(client_b: Client) -> None:
    # given a key made for company A
    out = StringIO()
    call_command("create_api_key", "acme", "--name", "Zapier", stdout=out)
    key = out.getvalue().splitlines()[-1]
    # when it is sent to company B
    response = client_b.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {key}")
    # then
    assert response.status_code == 401


def test_unknown_company_fails_and_changes_nothing(company_a: Company, company_b: Company) -> None:
    # given
    before = (_key_count(company_a), _key_count(company_b))
    # when
    with pytest.raises(CommandError) as excinfo:
        call_command("create_api_key", "nope", "--name", "Zapier", stdout=StringIO())
    # then
    assert str(excinfo.value) == "No company with slug 'nope'."
    assert (_key_count(company_a), _key_count(company_b)) == before


def test_blank_name_fails_and_changes_nothing(company_a: Company) -> None:
    # given
    before = _key_count(company_a)
    # when
    with pytest.raises(CommandError) as excinfo:
        call_command("create_api_key", "acme", "--name", "   ", stdout=StringIO())
    # then
    assert str(excinfo.value) == "Cannot create the key: Give the key a name."
    assert _key_count(company_a) == before


def test_name_is_required(company_a: Company) -> None:
    # when / then: argparse's error, before anything is looked up
    with pytest.raises(CommandError, match="--name"):
        call_command("create_api_key", "acme", stdout=StringIO())


def test_suspended_company_still_gets_a_key(alice: Persona) -> None:
    # given
    Company.objects.filter(pk=alice.company.pk).update(status=Company.Status.SUSPENDED)
    out = StringIO()
    # when
    call_command("create_api_key", "acme", "--name", "After the suspension", stdout=out)
    # then
    assert KEY_PATTERN.fullmatch(out.getvalue().splitlines()[-1])
