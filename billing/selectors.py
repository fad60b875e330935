"""Every read of billing: plans, usage, limits in use, invoices, estimates."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Q, QuerySet, Sum
from django.http import Http404
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.errors import (
    LIMIT_AGENTS,
    LIMIT_DAILY_MESSAGES,
    LIMIT_PHONE_NUMBERS,
    LIMIT_WEBHOOKS,
    PlanNotFoundError,
)
from billing.models import (
    ANY_MARKET,
    CURRENCY,
    Category,
    Invoice,
    LimitCounter,
    Plan,
    PlanChangeRequest,
    RatePrice,
    Subscription,
    UsageDaily,
)
from tenants.models import Company, PhoneNumberRoute

CENT = Decimal("0.01")


def plan_get(*, code: str) -> Plan:
    """The plan with this code; PlanNotFoundError when there is none."""
    try:
        return Plan.objects.get(code=code)
    except Plan.DoesNotExist as exc:
        raise PlanNotFoundError(f"Unknown plan {code!r}.") from exc


def plan_list() -> QuerySet[Plan]:
    return Plan.objects.all()


def company_current() -> Company:
    """The company whose schema the connection is in (a request's, a task's, a test's)."""
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Company):
        return tenant
    return Company.objects.get(schema_name=connection.schema_name)


def company_plan(*, company: Company) -> Plan:
    """The company's plan as stored now (not as cached on a request's company object)."""
    plan = Plan.objects.filter(companies__pk=company.pk).first()
    if plan is None:
        raise PlanNotFoundError(f"Company {company} has no plan.")
    return plan


# An operator's edit of a plan's API rate applies within this many seconds.
PLAN_RATE_CACHE_SECONDS = 60


def plan_api_rate(*, plan_id: int | None) -> int | None:
    """The plan's API requests per minute per key, cached briefly: the throttle asks on every
    request and must not cost a query each time. None for no plan."""
    if plan_id is None:
        return None
    key = f"billing:plan-api-rate:{plan_id}"
    rate = cache.get(key)
    if rate is None:
        rate = Plan.objects.filter(pk=plan_id).values_list("api_requests_per_minute", flat=True).first()
        if rate is None:
            return None
        cache.set(key, rate, PLAN_RATE_CACHE_SECONDS)
    return int(rate)


def company_verified(*, company: Company) -> bool:
    from tenants.selectors import company_is_verified

    return company_is_verified(company=company)


# --- what a company uses -----------------------------------------------------------------------


def company_agents_count(*, company: Company) -> int:
    """Active agents plus open invitations: each invitation may become an agent."""
    from accounts.models import Invitation, User

    with schema_context(company.schema_name):
        users = User.objects.filter(is_active=True).count()
        pending = Invitation.objects.filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        ).count()
    return users + pending


def company_phone_numbers_count(*, company: Company) -> int:
    return PhoneNumberRoute.objects.filter(company_id=company.pk).count()


def company_webhook_subscriptions_count(*, company: Company) -> int:
    from inbox.models import WebhookSubscription

    with schema_context(company.schema_name):
        return WebhookSubscription.objects.count()


def daily_messages_used(*, company: Company, day: date | None = None) -> int:
    day = day or timezone.now().astimezone(UTC).date()
    return (
        LimitCounter.objects.filter(company_id=company.pk, day=day, name=LIMIT_DAILY_MESSAGES)
        .values_list("used", flat=True)
        .first()
        or 0
    )


def company_limits(*, company: Company, plan: Plan | None = None) -> dict[str, dict[str, int | None]]:
    """Each limit with something in use now: `{name: {"used", "allowed"}}` (allowed None = unlimited)."""
    plan = plan or company_plan(company=company)
    return {
        LIMIT_AGENTS: {"used": company_agents_count(company=company), "allowed": plan.max_agents},
        LIMIT_PHONE_NUMBERS: {"used": company_phone_numbers_count(company=company), "allowed": plan.max_phone_numbers},
        LIMIT_DAILY_MESSAGES: {
            "used": daily_messages_used(company=company),
            "allowed": plan.max_business_initiated_per_day,
        },
        LIMIT_WEBHOOKS: {
            "used": company_webhook_subscriptions_count(company=company),
            "allowed": None if plan.outgoing_webhooks else 0,
        },
    }


# --- periods and usage -----------------------------------------------------------------------------


def period_bounds(*, when: datetime | date | None = None) -> tuple[date, date]:
    """The billing period (calendar month, UTC) holding `when`: first and last day."""
    if when is None:
        when = timezone.now()
    day = when.astimezone(UTC).date() if isinstance(when, datetime) else when
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def usage_by_category(*, company: Company, start: date, end: date) -> list[dict[str, Any]]:
    """Per category with usage in [start, end]: count, charged_count, amount (Decimal, 4 places)."""
    rows = (
        UsageDaily.objects.filter(company_id=company.pk, day__gte=start, day__lte=end)
        .values("category")
        .annotate(count=Sum("count"), charged_count=Sum("charged_count"), amount=Sum("amount"))
        .order_by("category")
    )
    order = {c: i for i, c in enumerate(Category.values)}
    return sorted(rows, key=lambda r: order.get(r["category"], 99))


def usage_daily(*, company: Company, start: date, end: date) -> list[dict[str, Any]]:
    """One entry per day of [start, end]: {"day", "count", "charged_count", "amount"} (zeros included)."""
    rows = (
        UsageDaily.objects.filter(company_id=company.pk, day__gte=start, day__lte=end)
        .values("day")
        .annotate(count=Sum("count"), charged_count=Sum("charged_count"), amount=Sum("amount"))
    )
    by_day = {r["day"]: r for r in rows}
    days = []
    day = start
    while day <= end:
        row = by_day.get(day) or {"count": 0, "charged_count": 0, "amount": Decimal("0")}
        days.append({"day": day, "count": row["count"], "charged_count": row["charged_count"], "amount": row["amount"]})
        day += timedelta(days=1)
    return days


def company_usage_period(*, company: Company, when: datetime | date | None = None) -> dict[str, Any]:
    """This period's usage for the operator console and the usage page/API.

    `{"period": {"start", "end"}, "currency", "by_category": {category: {"count",
    "charged", "amount"}}, "total": Decimal}`; every category is present (zeros), amounts are
    Decimal rounded to the cent.
    """
    start, end = period_bounds(when=when)
    by_category: dict[str, dict[str, Any]] = {
        c: {"count": 0, "charged": 0, "amount": Decimal("0.00")} for c in Category.values
    }
    for row in usage_by_category(company=company, start=start, end=end):
        by_category[row["category"]] = {
            "count": row["count"],
            "charged": row["charged_count"],
            "amount": Decimal(row["amount"]).quantize(CENT, rounding=ROUND_HALF_UP),
        }
    return {
        "period": {"start": start, "end": end},
        "currency": CURRENCY,
        "by_category": by_category,
        "total": sum((v["amount"] for v in by_category.values()), Decimal("0.00")),
    }


def plan_days(*, company: Company, start: date, end: date) -> list[tuple[Plan, int]]:
    """(plan, days) the company spent on each plan within [start, end], by subscription spans.

    A change takes effect on the day it was made: that day counts for the new plan. A
    company without subscription rows (made before billing tracked them) is on its current
    plan since it was provisioned.
    """
    spans = list(
        Subscription.objects.filter(company_id=company.pk)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__date__gt=start))
        .select_related("plan")
        .order_by("started_at")
    )
    if not spans:
        plan = Plan.objects.filter(companies__pk=company.pk).first()
        if plan is None:
            return []
        since = company.provisioned_at or company.created_at
        spans = [Subscription(company=company, plan=plan, started_at=since)]
    result: list[tuple[Plan, int]] = []
    after_end = end + timedelta(days=1)
    for span in spans:
        first = max(span.started_at.astimezone(UTC).date(), start)
        last = min(span.ended_at.astimezone(UTC).date(), after_end) if span.ended_at else after_end
        days = (last - first).days
        if days > 0:
            result.append((span.plan, days))
    return result


def invoice_estimate(*, company: Company, when: datetime | date | None = None) -> dict[str, Any]:
    """What this period's invoice would hold if the period ended now: lines and total."""
    from billing.services import invoice_lines_compute

    start, end = period_bounds(when=when)
    lines = invoice_lines_compute(company=company, start=start, end=end)
    return {
        "period": {"start": start, "end": end},
        "lines": lines,
        "total": sum((line.amount for line in lines), Decimal("0.00")),
        "currency": CURRENCY,
    }


# --- prices ----------------------------------------------------------------------------------------


def rate_for(*, plan: Plan, category: str, market: str = ANY_MARKET) -> Decimal:
    """The plan's price of one message of `category` to `market` (falling back to "*"); 0 when none."""
    rows = {
        r.market: r.unit_price
        for r in RatePrice.objects.filter(plan=plan, category=category, market__in=[market, ANY_MARKET])
    }
    return rows.get(market, rows.get(ANY_MARKET, Decimal("0")))


def cost_estimate(*, company: Company, category: str, count: int, market: str = ANY_MARKET) -> dict[str, Any]:
    """Estimated price of `count` messages of `category` to `market` on the company's plan.

    Service messages are free; utility templates are priced as if no window were open (the
    upper bound). Amounts are strings with two decimals, as the API shows money.
    """
    plan = company_plan(company=company)
    unit = Decimal("0") if category == Category.SERVICE else rate_for(plan=plan, category=category, market=market)
    amount = (unit * count).quantize(CENT, rounding=ROUND_HALF_UP)
    return {
        "currency": CURRENCY,
        "total": str(amount),
        "market": market,
        "unit_price": str(unit),
        "by_category": {category: {"count": count, "amount": str(amount)}},
    }


# --- invoices, requests -------------------------------------------------------------------------------


def invoice_list(*, company: Company) -> QuerySet[Invoice]:
    return Invoice.objects.filter(company_id=company.pk).order_by("-period_start", "-number")


def invoice_get(*, company: Company, number: int) -> Invoice:
    """The company's invoice with this number, or 404 (another company's looks unknown)."""
    invoice = Invoice.objects.filter(company_id=company.pk, number=number).prefetch_related("lines").first()
    if invoice is None:
        raise Http404("No such invoice.")
    return invoice


def plan_request_list(*, company: Company) -> QuerySet[PlanChangeRequest]:
    return PlanChangeRequest.objects.filter(company_id=company.pk).select_related("plan")[:10]
