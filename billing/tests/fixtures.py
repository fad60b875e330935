"""Fixtures other apps' tests use when they need more than the free plan allows.

`plan_limits_lifted`: the seeded free plan without the counted limits (numbers, broadcast
recipients, daily messages, the unverified cap) for one test, so a test about something
else (e.g. a 120-recipient broadcast on alice's free company) still runs through the
real reservation path. Works for tests in a transaction and for committed ones (it
restores the row afterwards). Use: `pytestmark = pytest.mark.usefixtures("plan_limits_lifted")`
after `from billing.tests.fixtures import plan_limits_lifted  # noqa: F401`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection

from billing.models import Plan

LIFTED = ("max_phone_numbers", "max_broadcast_recipients", "max_business_initiated_per_day", "unverified_broadcast_cap")


@pytest.fixture
def plan_limits_lifted(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        before = dict(Plan.objects.filter(code="free").values(*LIFTED).get())
        Plan.objects.filter(code="free").update(**dict.fromkeys(LIFTED))
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            connection.set_schema_to_public()
            Plan.objects.filter(code="free").update(**before)
            cache.clear()
