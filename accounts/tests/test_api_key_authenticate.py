from __future__ import annotations

import pytest

from accounts import services
from tenants.models import Company


def test_accepts_a_key_whose_random_part_contains_underscores(
    tenant_a: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setattr(services.secrets, "token_urlsafe", lambda nbytes: "under_score_" + "x" * 31)
    issued = services.api_key_create(name="Underscored")
    # when
    found = services.api_key_authenticate(key=issued.key)
    # then
    assert found == issued.api_key


def test_refuses_a_key_with_a_wrong_secret(tenant_a: Company) -> None:
    # given
    issued = services.api_key_create(name="Real")
    # when
    found = services.api_key_authenticate(key=issued.key[:-1] + ("A" if issued.key[-1] != "A" else "B"))
    # then
    assert found is None
