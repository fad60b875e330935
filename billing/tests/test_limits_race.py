"""Many concurrent senders, each with its own database connection, racing for the last units.

Rows are committed (the threads must see them) and removed afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.errors import LIMIT_DAILY_MESSAGES, PlanLimitExceeded
from billing.models import LimitCounter, Plan
from billing.services import KIND_MESSAGE, limits_reserve
from config.tests.test_celery_worker import committed_db as committed_db  # the fixture
from conftest import Persona
from inbox.models import PhoneNumber
from inbox.services import numbers
from tenants.models import Company, PhoneNumberRoute

SENDERS = 24


@pytest.fixture
def race_plan(committed_db: None, personas: dict[str, Persona]) -> Iterator[tuple[Company, Plan]]:
    """Company A on a plan of its own for the test (committed), put back afterwards."""
    company = personas["alice"].company
    original = Company.objects.get(pk=company.pk).plan_id
    # Worker tests commit real counters for this company (their worker processes reserve
    # units); start from none.
    LimitCounter.objects.filter(company=company).delete()
    plan = Plan.objects.create(
        code="race-test", name="Race", max_business_initiated_per_day=100, max_phone_numbers=2, max_agents=3
    )
    Company.objects.filter(pk=company.pk).update(plan=plan)
    try:
        yield Company.objects.get(pk=company.pk), plan
    finally:
        connection.set_schema_to_public()
        Company.objects.filter(pk=company.pk).update(plan_id=original)
        LimitCounter.objects.filter(company=company).delete()
        for route in PhoneNumberRoute.objects.filter(company=company):
            with schema_context(company.schema_name):
                PhoneNumber.objects.filter(phone_number_id=route.phone_number_id).delete()
            route.delete()
        plan.delete()


def _race(worker: Callable[[int], None]) -> tuple[int, list[BaseException]]:
    """Runs `worker(i)` in SENDERS threads started together; returns (successes, refusals)."""
    barrier = threading.Barrier(SENDERS)
    ok: list[int] = []
    refused: list[BaseException] = []
    unexpected: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            worker(i)
            ok.append(i)
        except PlanLimitExceeded as exc:
            refused.append(exc)
        except BaseException as exc:
            unexpected.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(SENDERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not unexpected, unexpected
    return len(ok), refused


def test_exactly_the_remaining_daily_units_are_granted(race_plan: tuple[Company, Plan]) -> None:
    # given 95 of 100 used today
    company, _ = race_plan
    LimitCounter.objects.create(company=company, day=timezone.now().date(), name=LIMIT_DAILY_MESSAGES, used=95)

    def send(i: int) -> None:
        with schema_context(company.schema_name), transaction.atomic():
            limits_reserve(company=company, kind=KIND_MESSAGE)
            # Hold the transaction a moment, as a real send does while it writes its rows.
            connection.cursor().execute("SELECT pg_sleep(0.01)")

    # when 24 senders race for the last 5
    granted, refused = _race(send)
    # then exactly 5 succeed and the counter stops at the limit
    assert granted == 5
    assert len(refused) == SENDERS - 5
    assert all(exc.details == {"limit": LIMIT_DAILY_MESSAGES, "used": 100, "allowed": 100} for exc in refused)
    assert LimitCounter.objects.get(company=company, name=LIMIT_DAILY_MESSAGES).used == 100


def test_a_rolled_back_sender_returns_its_units(race_plan: tuple[Company, Plan]) -> None:
    company, _ = race_plan
    LimitCounter.objects.create(company=company, day=timezone.now().date(), name=LIMIT_DAILY_MESSAGES, used=90)

    def send(i: int) -> None:
        with schema_context(company.schema_name), transaction.atomic():
            limits_reserve(company=company, kind=KIND_MESSAGE)
            if i % 2:
                raise PlanLimitExceeded(limit="test-rollback", used=0, allowed=0)  # any failure after reserving

    granted, _ = _race(send)
    # the odd senders rolled back and gave their units back: 10 of the 12 even ones got one
    assert granted == 10
    assert LimitCounter.objects.get(company=company, name=LIMIT_DAILY_MESSAGES).used == 100


def test_concurrent_number_connections_stop_at_the_limit(race_plan: tuple[Company, Plan]) -> None:
    # given a plan of 2 numbers and none connected
    company, _ = race_plan

    def connect(i: int) -> None:
        numbers.phone_number_connect(
            company=company, phone_number_id=f"7700000009{i:05d}", display_number=f"+4930999{i:05d}"
        )

    granted, refused = _race(connect)
    assert granted == 2
    assert PhoneNumberRoute.objects.filter(company=company).count() == 2
    assert {exc.details["limit"] for exc in refused} == {"phone_numbers"}
