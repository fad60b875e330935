from __future__ import annotations

import pytest

from billing.errors import PlanNotFoundError
from billing.selectors import plan_get


def test_free_plan_is_seeded_with_its_limits(db: None) -> None:
    plan = plan_get(code="free")
    assert (plan.max_agents, plan.max_phone_numbers, plan.api_requests_per_minute) == (3, 1, 300)


def test_enterprise_plan_is_unlimited_with_a_higher_api_rate(db: None) -> None:
    plan = plan_get(code="enterprise")
    assert (plan.max_agents, plan.max_phone_numbers, plan.api_requests_per_minute) == (None, None, 3000)


def test_unknown_plan_is_an_error(db: None) -> None:
    with pytest.raises(PlanNotFoundError, match="platinum"):
        plan_get(code="platinum")
