"""`manage.py connect_number` without an access token."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django_tenants.utils import schema_context

from inbox.models import PhoneNumber
from tenants.models import Company


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("connect_number", "acme", "--phone-number-id", "770000000000001",
                 "--display-number", "+493012345601", *args, stdout=out, stderr=err)  # fmt: skip
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize(("base", "warned"), [("https://graph.example.com", True), ("", False)])
def test_no_token_connects_and_warns_only_for_the_cloud_api(
    company_a: Company, settings: Any, base: str, warned: bool
) -> None:
    # given
    settings.WHATSAPP_API_BASE = base
    # when
    out, err = _run()
    # then
    assert out.strip().splitlines()[-1].startswith("Connected +493012345601")
    assert ("no access token" in err) is warned
    with schema_context(company_a.schema_name):
        assert PhoneNumber.objects.get().access_token == ""


def test_a_token_gives_no_warning(company_a: Company, settings: Any) -> None:
    settings.WHATSAPP_API_BASE = "https://graph.example.com"
    _, err = _run("--access-token", "EAAG-token")
    assert err == ""
