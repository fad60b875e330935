from __future__ import annotations

import importlib
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps as django_apps

from billing.errors import PlanNotFoundError
from billing.models import Plan, RatePrice
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
    assert plan.unverified_broadcast_cap is None  # no cap while not verified (0005)
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


# --- 0005: Enterprise has no unverified cap ---------------------------------------------------


def _migration_0005() -> Any:
    return importlib.import_module("billing.migrations.0005_enterprise_no_unverified_cap")


def test_0005_lifts_only_the_seeded_enterprise_cap_and_reverses(db: None) -> None:
    migration = _migration_0005()
    # given the row as 0004 seeded it
    Plan.objects.filter(code="enterprise").update(unverified_broadcast_cap=50)
    # when
    migration.lift(django_apps, None)
    # then
    assert plan_get(code="enterprise").unverified_broadcast_cap is None
    assert plan_get(code="free").unverified_broadcast_cap == 50
    # and backwards the seeded 50 comes back, the free plan untouched
    migration.restore(django_apps, None)
    assert plan_get(code="enterprise").unverified_broadcast_cap == 50
    assert plan_get(code="free").unverified_broadcast_cap == 50


@pytest.mark.parametrize("operators_cap", [20, 500])
def test_0005_keeps_a_cap_an_operator_set(db: None, operators_cap: int) -> None:
    migration = _migration_0005()
    # given an operator's own cap on the enterprise row
    Plan.objects.filter(code="enterprise").update(unverified_broadcast_cap=operators_cap)
    # when / then: neither direction touches it
    migration.lift(django_apps, None)
    assert plan_get(code="enterprise").unverified_broadcast_cap == operators_cap
    migration.restore(django_apps, None)
    assert plan_get(code="enterprise").unverified_broadcast_cap == operators_cap
