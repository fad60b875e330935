from __future__ import annotations

from decimal import Decimal

import pytest

from billing.errors import PlanNotFoundError
from billing.models import RatePrice
from billing.selectors import plan_get, rate_for


def test_free_plan_is_seeded_with_its_limits(db: None) -> None:
    plan = plan_get(code="free")
    assert (plan.max_agents, plan.max_phone_numbers, plan.api_requests_per_minute) == (3, 1, 300)
    assert (plan.max_broadcast_recipients, plan.max_business_initiated_per_day, plan.unverified_broadcast_cap) == (
        256,
        1000,
        50,
    )
    assert (plan.outgoing_webhooks, plan.monthly_fee, plan.currency) == (False, Decimal("0.00"), "EUR")
    assert not RatePrice.objects.filter(plan=plan).exists()


def test_enterprise_plan_is_unlimited_with_a_higher_api_rate_and_a_fee(db: None) -> None:
    plan = plan_get(code="enterprise")
    assert (plan.max_agents, plan.max_phone_numbers, plan.api_requests_per_minute) == (None, None, 3000)
    assert (plan.max_broadcast_recipients, plan.max_business_initiated_per_day) == (None, None)
    assert plan.outgoing_webhooks
    assert plan.monthly_fee == Decimal("499.00")


def test_enterprise_rate_card_has_a_default_and_country_prices(db: None) -> None:
    plan = plan_get(code="enterprise")
    assert rate_for(plan=plan, category="marketing", market="DE") == Decimal("0.1270")
    assert rate_for(plan=plan, category="marketing", market="FR") == Decimal("0.0550")  # the "*" row
    assert rate_for(plan=plan, category="utility", market="IN") == Decimal("0.0013")
    assert rate_for(plan=plan, category="service", market="DE") == Decimal("0")


def test_unknown_plan_is_an_error(db: None) -> None:
    with pytest.raises(PlanNotFoundError, match="platinum"):
        plan_get(code="platinum")


@pytest.mark.parametrize(("market", "valid"), [("de", True), ("*", True), ("DEU", False), ("1x", False)])
def test_rate_markets_are_country_codes_or_the_default(db: None, market: str, valid: bool) -> None:
    from django.core.exceptions import ValidationError

    rate = RatePrice(plan=plan_get(code="free"), category="marketing", market=market, unit_price=Decimal("0.01"))
    if valid:
        rate.full_clean()
        assert rate.market == market.upper()
    else:
        with pytest.raises(ValidationError, match="two-letter country code"):
            rate.full_clean()
