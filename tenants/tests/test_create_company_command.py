from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tenants.models import Company


def _run(*args: str) -> str:
    out = StringIO()
    call_command("create_company", *args, stdout=out)
    return out.getvalue()


def test_prints_the_host_on_the_last_line_and_owner_can_log_in(db: None) -> None:
    # when
    out = _run("bakery", "--name", "Best Bakery", "--plan", "enterprise", "--owner-email", "b@bakery.test",
               "--owner-password", "flour-water-salt-9")  # fmt: skip
    # then
    assert out.strip().splitlines()[-1] == "bakery.localhost"
    company = Company.objects.get(slug="bakery")
    assert company.plan is not None
    assert company.plan.code == "enterprise"
    response = Client(HTTP_HOST="bakery.localhost").post(
        "/login/", {"username": "b@bakery.test", "password": "flour-water-salt-9"}
    )
    assert response.status_code == 302


def test_duplicate_slug_fails_with_one_line_and_changes_nothing(company_a: Company) -> None:
    # given
    before = Company.objects.count()
    # when / then
    with pytest.raises(CommandError, match="already taken") as excinfo:
        _run("acme", "--name", "Other", "--plan", "free", "--owner-email", "x@x.test",
             "--owner-password", "pw-123456789")  # fmt: skip
    assert "\n" not in str(excinfo.value)
    assert Company.objects.count() == before


def test_reserved_slug_fails(db: None) -> None:
    with pytest.raises(CommandError, match="reserved"):
        _run("www", "--name", "W", "--plan", "free", "--owner-email", "x@x.test", "--owner-password", "pw-123456789")


def test_unknown_plan_is_refused_by_the_parser(db: None) -> None:
    with pytest.raises(CommandError, match="invalid choice"):
        _run("shop", "--name", "S", "--plan", "gold", "--owner-email", "x@x.test", "--owner-password", "pw-123456789")
    assert not Company.objects.filter(slug="shop").exists()
