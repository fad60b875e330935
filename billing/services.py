"""Every write of billing: limit reservations, usage booking, plan changes, invoices.

Limits (`limits_reserve`): every sender calls it inside its own transaction. Counted limits
(template messages per day) are reserved by ONE conditional UPDATE on a per-company-per-day
counter row (`used + n <= allowed`), so concurrent senders cannot overshoot and a send that
rolls back frees its units. Limits on things that exist (agents, numbers) take a
transaction-scoped advisory lock per company and limit, then count: the row the caller adds
is committed before the next caller counts.

Metering (`usage_book`): one ledger row per delivered outbound message, priced as WhatsApp
bills since 1 Jul 2025 (whatsapp-platform.md §4.2, §4.3): marketing and authentication
templates charged; utility templates free inside the 24-hour window, charged outside;
free-form (service) messages free. One statement inserts the row (ON CONFLICT DO NOTHING on
(company, message)) and moves the daily rollup only when the row was new, so a repeated
status webhook books nothing twice.

Invoices (`invoice_issue`): monthly, complete in one transaction, numbered from a locked
counter row (no gaps), never changed afterwards (model guard + database trigger).
"""

from __future__ import annotations

import calendar
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import phonenumbers
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_tenants.utils import schema_context

from billing import selectors
from billing.errors import (
    LIMIT_AGENTS,
    LIMIT_BROADCAST_RECIPIENTS,
    LIMIT_DAILY_MESSAGES,
    LIMIT_PHONE_NUMBERS,
    LIMIT_UNVERIFIED_BROADCAST,
    PlanChangeRefused,
    PlanLimitExceeded,
)
from billing.models import (
    ANY_MARKET,
    CURRENCY,
    Category,
    Invoice,
    InvoiceCounter,
    InvoiceLine,
    LimitCounter,
    Plan,
    PlanChangeRequest,
    Subscription,
    UsageDaily,
    UsageRecord,
)
from tenants.models import Company

logger = logging.getLogger(__name__)

# What a sender reserves (`kind`); each maps to the plan limits it is checked against.
KIND_MESSAGE = "message"  # one business-initiated (template) message
KIND_BROADCAST = "broadcast"  # a whole broadcast audience, checked up front
KIND_AGENT = "agent"  # an invitation or a reactivated agent
KIND_PHONE_NUMBER = "phone_number"
KINDS = (KIND_MESSAGE, KIND_BROADCAST, KIND_AGENT, KIND_PHONE_NUMBER)
# Advisory lock keys (second half of pg_advisory_xact_lock(company, key)).
_LOCK_KEYS = {KIND_AGENT: 0x6167, KIND_PHONE_NUMBER: 0x706E}
CENT = Decimal("0.01")

PLAN_SAME = _("The company is already on the {plan} plan.")
DOWNGRADE_AGENTS = "{company} has {used} agents (active agents and open invitations); the {plan} plan allows {allowed}."
DOWNGRADE_NUMBERS = "{company} has {used} connected numbers; the {plan} plan allows {allowed}."
DOWNGRADE_WEBHOOKS = "{company} has {used} webhook subscription(s); the {plan} plan has no outgoing webhooks."
REQUEST_PENDING = _("A request for the {plan} plan is already waiting for an operator.")
REQUEST_NOT_PENDING = _("This request was decided already.")


@dataclass(frozen=True)
class Reservation:
    limit: str
    used: int  # after this reservation
    allowed: int | None  # None: unlimited


# --- limits ---------------------------------------------------------------------------------


def _today() -> date:
    return timezone.now().astimezone(UTC).date()


def _counter_reserve(*, company: Company, name: str, amount: int, allowed: int | None) -> int:
    """Adds `amount` to today's counter unless that passes `allowed`; returns the new total."""
    table = LimitCounter._meta.db_table
    day = _today()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (company_id, day, name, used) VALUES (%s, %s, %s, 0) "  # noqa: S608
            "ON CONFLICT (company_id, day, name) DO NOTHING",
            [company.pk, day, name],
        )
        cursor.execute(
            f"UPDATE {table} SET used = used + %(n)s "  # noqa: S608
            "WHERE company_id = %(c)s AND day = %(d)s AND name = %(name)s "
            "AND (%(allowed)s::integer IS NULL OR used + %(n)s <= %(allowed)s) RETURNING used",
            {"n": amount, "c": company.pk, "d": day, "name": name, "allowed": allowed},
        )
        row = cursor.fetchone()
        if row is not None:
            return int(row[0])
        cursor.execute(
            f"SELECT used FROM {table} WHERE company_id = %s AND day = %s AND name = %s",  # noqa: S608
            [company.pk, day, name],
        )
        used = int(cursor.fetchone()[0])
    raise PlanLimitExceeded(limit=name, used=used, allowed=int(allowed or 0), amount=amount)


def _lock(company: Company, kind: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [company.pk, _LOCK_KEYS[kind]])


def limits_reserve(*, company: Company, kind: str, amount: int = 1) -> Reservation:
    """Checks the company's plan for `amount` more of `kind` and reserves it, or raises
    PlanLimitExceeded (nothing reserved).

    Call inside the transaction that does the work: a rollback returns the units, and the
    lock or counter row is held until commit, so concurrent callers cannot both take the
    last unit. Kinds: KIND_MESSAGE (one template message), KIND_BROADCAST (`amount`
    recipients: per-broadcast cap, unverified-company cap, then the daily counter, all up
    front), KIND_AGENT, KIND_PHONE_NUMBER (checked against what exists, under a lock).
    """
    if kind not in KINDS:
        raise ValueError(f"Unknown limit kind {kind!r}; known: {', '.join(KINDS)}")
    if amount < 0:
        raise ValueError("amount must not be negative")
    plan = selectors.company_plan(company=company)
    with transaction.atomic():
        if kind == KIND_AGENT:
            _lock(company, kind)
            used = selectors.company_agents_count(company=company)
            if plan.max_agents is not None and used + amount > plan.max_agents:
                raise PlanLimitExceeded(limit=LIMIT_AGENTS, used=used, allowed=plan.max_agents, amount=amount)
            return Reservation(LIMIT_AGENTS, used + amount, plan.max_agents)
        if kind == KIND_PHONE_NUMBER:
            _lock(company, kind)
            used = selectors.company_phone_numbers_count(company=company)
            if plan.max_phone_numbers is not None and used + amount > plan.max_phone_numbers:
                raise PlanLimitExceeded(
                    limit=LIMIT_PHONE_NUMBERS, used=used, allowed=plan.max_phone_numbers, amount=amount
                )
            return Reservation(LIMIT_PHONE_NUMBERS, used + amount, plan.max_phone_numbers)
        if kind == KIND_BROADCAST:
            if plan.max_broadcast_recipients is not None and amount > plan.max_broadcast_recipients:
                raise PlanLimitExceeded(
                    limit=LIMIT_BROADCAST_RECIPIENTS, used=amount, allowed=plan.max_broadcast_recipients, amount=amount
                )
            cap = plan.unverified_broadcast_cap
            if cap is not None and amount > cap and not selectors.company_verified(company=company):
                raise PlanLimitExceeded(limit=LIMIT_UNVERIFIED_BROADCAST, used=amount, allowed=cap, amount=amount)
        used = _counter_reserve(
            company=company, name=LIMIT_DAILY_MESSAGES, amount=amount, allowed=plan.max_business_initiated_per_day
        )
        return Reservation(LIMIT_DAILY_MESSAGES, used, plan.max_business_initiated_per_day)


# --- metering -------------------------------------------------------------------------------


def market_of(phone: str) -> str:
    """The recipient's market: the ISO country of an E.164 number, "*" when unknown."""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return ANY_MARKET
    return region if region and len(region) == 2 and region.isalpha() else ANY_MARKET


def pricing_rule(*, category: str, window_open: bool) -> tuple[bool, str]:
    """(billable, reason when free) for a delivered message, per WhatsApp since Jul 2025."""
    if category in (Category.MARKETING, Category.AUTHENTICATION):
        return True, ""
    if category == Category.UTILITY:
        return (False, UsageRecord.Reason.UTILITY_IN_WINDOW) if window_open else (True, "")
    return False, UsageRecord.Reason.SERVICE


def usage_book(
    *, company: Company, message_id: object, category: str, phone: str, window_open: bool
) -> UsageRecord | None:
    """Books one delivered outbound message on the ledger; None when it was booked before.

    `category` is the template's category at send time, or "service" for a free-form
    message; `window_open` whether the customer-service window was open when it was sent.
    The unit price is the rate of the company's plan now for (category, recipient's market,
    else "*"); a plan without that rate includes the message (0.00). One statement:
    insert-or-nothing on (company, message), and the daily rollup moves only for a new row.
    """
    if category not in Category.values:
        category = Category.SERVICE
    billable, free_reason = pricing_rule(category=category, window_open=window_open)
    now = timezone.now()
    params = {
        "company": company.pk,
        "message": str(message_id),
        "category": category,
        "market": market_of(phone),
        "billable": billable,
        "free_reason": free_reason,
        "at": now,
        "day": now.astimezone(UTC).date(),
        "currency": CURRENCY,
    }
    sql = f"""
        WITH plan AS (SELECT plan_id FROM {Company._meta.db_table} WHERE id = %(company)s AND plan_id IS NOT NULL),
        price AS (
          SELECT COALESCE((
            SELECT r.unit_price FROM billing_rateprice r, plan
            WHERE r.plan_id = plan.plan_id AND r.category = %(category)s AND r.market IN (%(market)s, '*')
            ORDER BY (r.market = '*') LIMIT 1), 0) AS unit_price
        ),
        ins AS (
          INSERT INTO {UsageRecord._meta.db_table}
            (company_id, message_id, category, market, plan_id, unit_price, charged, reason, currency, booked_at)
          SELECT %(company)s, %(message)s::uuid, %(category)s, %(market)s, plan.plan_id,
                 CASE WHEN %(billable)s THEN price.unit_price ELSE 0 END,
                 %(billable)s AND price.unit_price > 0,
                 CASE WHEN NOT %(billable)s THEN %(free_reason)s
                      WHEN price.unit_price > 0 THEN 'charged' ELSE 'included_in_plan' END,
                 %(currency)s, %(at)s
          FROM plan, price
          ON CONFLICT (company_id, message_id) DO NOTHING
          RETURNING id, plan_id, unit_price, charged, reason
        ),
        roll AS (
          INSERT INTO {UsageDaily._meta.db_table} AS d (company_id, day, category, count, charged_count, amount)
          SELECT %(company)s, %(day)s, %(category)s, 1, CASE WHEN ins.charged THEN 1 ELSE 0 END,
                 CASE WHEN ins.charged THEN ins.unit_price ELSE 0 END
          FROM ins
          ON CONFLICT (company_id, day, category) DO UPDATE SET
            count = d.count + 1,
            charged_count = d.charged_count + EXCLUDED.charged_count,
            amount = d.amount + EXCLUDED.amount
        )
        SELECT id, plan_id, unit_price, charged, reason FROM ins
    """  # noqa: S608 - table names only
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    # Built from RETURNING: the hot path (one call per delivery report) costs one statement.
    record = UsageRecord(
        id=row[0],
        company=company,
        message_id=uuid.UUID(params["message"]),
        category=category,
        market=params["market"],
        plan_id=row[1],
        unit_price=row[2],
        charged=row[3],
        reason=row[4],
        booked_at=now,
    )
    record._state.adding = False
    return record


# --- plan changes ---------------------------------------------------------------------------


def _downgrade_check(*, company: Company, plan: Plan) -> None:
    """PlanChangeRefused when the company uses more than `plan` allows (agents, numbers, webhooks)."""
    name = company.name or company.slug
    agents = selectors.company_agents_count(company=company)
    if plan.max_agents is not None and agents > plan.max_agents:
        raise PlanChangeRefused(DOWNGRADE_AGENTS.format(company=name, used=agents, plan=plan, allowed=plan.max_agents))
    numbers = selectors.company_phone_numbers_count(company=company)
    if plan.max_phone_numbers is not None and numbers > plan.max_phone_numbers:
        raise PlanChangeRefused(
            DOWNGRADE_NUMBERS.format(company=name, used=numbers, plan=plan, allowed=plan.max_phone_numbers)
        )
    if not plan.outgoing_webhooks:
        hooks = selectors.company_webhook_subscriptions_count(company=company)
        if hooks:
            raise PlanChangeRefused(DOWNGRADE_WEBHOOKS.format(company=name, used=hooks, plan=plan))


@transaction.atomic
def plan_change(*, company: Company, plan: Plan, actor: object | None, actor_label: str = "") -> Company:
    """Moves the company to `plan` now, audited; PlanChangeRefused when it cannot.

    A move to a plan with lower limits is refused while the company uses more than the new
    plan allows (agents, numbers, webhook subscriptions), with the reason. The open
    subscription span is closed and a new one opened at the same instant (the invoice
    prorates the base fee by days on each plan, docs/billing.md). `actor` is the operator
    (a public-schema User) or None for a command or the demo's instant approval, named
    by `actor_label`.
    """
    from tenants.services import audit_record

    company = Company.objects.select_for_update(of=("self",)).select_related("plan").get(pk=company.pk)
    old = company.plan
    if old is not None and old.pk == plan.pk:
        raise PlanChangeRefused(PLAN_SAME.format(plan=plan))
    # Counted under the same locks the limits use, so no agent or number slips in meanwhile.
    _lock(company, KIND_AGENT)
    _lock(company, KIND_PHONE_NUMBER)
    _downgrade_check(company=company, plan=plan)
    now = timezone.now()
    current = Subscription.objects.select_for_update().filter(company=company, ended_at__isnull=True).first()
    if current is None and old is not None:
        current = Subscription(company=company, plan=old, started_at=company.provisioned_at or company.created_at)
    if current is not None:
        current.ended_at = now
        current.save()
    Subscription.objects.create(company=company, plan=plan, started_at=now)
    company.plan = plan
    company.save(update_fields=["plan", "updated_at"])
    audit_record(
        actor=actor,
        action="plan_change",
        company=company,
        target=company.slug or "",
        before={"plan": old.code if old else None},
        after={"plan": plan.code},
        actor_label=actor_label,
    )
    logger.info("plan changed company=%s %s → %s", company.slug, old.code if old else None, plan.code)
    return company


@transaction.atomic
def plan_change_request(*, company: Company, plan: Plan, requested_by: str) -> PlanChangeRequest:
    """An owner asks for `plan`; an operator decides (instant when BILLING_PLAN_CHANGES_INSTANT).

    Raises PlanChangeRefused for the current plan, a second pending request, or (checked
    now, so the owner learns it at once) a downgrade below what the company uses.
    """
    company = Company.objects.select_for_update(of=("self",)).select_related("plan").get(pk=company.pk)
    if company.plan_id == plan.pk:
        raise PlanChangeRefused(PLAN_SAME.format(plan=plan))
    if PlanChangeRequest.objects.filter(company=company, status=PlanChangeRequest.Status.PENDING).exists():
        pending = PlanChangeRequest.objects.get(company=company, status=PlanChangeRequest.Status.PENDING)
        raise PlanChangeRefused(REQUEST_PENDING.format(plan=pending.plan))
    _downgrade_check(company=company, plan=plan)
    request = PlanChangeRequest.objects.create(company=company, plan=plan, requested_by=requested_by[:254])
    if settings.BILLING_PLAN_CHANGES_INSTANT:
        plan_request_approve(request=request, actor=None, actor_label="demo: instant approval")
        request.refresh_from_db()
    return request


@transaction.atomic
def plan_request_approve(
    *, request: PlanChangeRequest, actor: object | None, actor_label: str = ""
) -> PlanChangeRequest:
    """An operator approves: the plan changes (or the request is rejected with the reason why not)."""
    request = (
        PlanChangeRequest.objects.select_for_update(of=("self",))
        .select_related("company", "company__plan", "plan")
        .get(pk=request.pk)
    )
    if request.status != PlanChangeRequest.Status.PENDING:
        raise PlanChangeRefused(REQUEST_NOT_PENDING)
    decided_by = actor_label or getattr(actor, "email", "") or "system"
    try:
        with transaction.atomic():
            plan_change(company=request.company, plan=request.plan, actor=actor, actor_label=actor_label)
    except PlanChangeRefused as exc:
        request.status = PlanChangeRequest.Status.REJECTED
        request.reason = exc.message
    else:
        request.status = PlanChangeRequest.Status.APPROVED
    request.decided_by = decided_by[:254]
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "reason", "decided_by", "decided_at"])
    return request


@transaction.atomic
def plan_request_reject(
    *, request: PlanChangeRequest, actor: object | None, reason: str, actor_label: str = ""
) -> PlanChangeRequest:
    """An operator refuses the request, with a reason the owner sees."""
    from tenants.services import audit_record

    request = (
        PlanChangeRequest.objects.select_for_update(of=("self",))
        .select_related("company", "company__plan", "plan")
        .get(pk=request.pk)
    )
    if request.status != PlanChangeRequest.Status.PENDING:
        raise PlanChangeRefused(REQUEST_NOT_PENDING)
    request.status = PlanChangeRequest.Status.REJECTED
    request.reason = reason.strip() or "Refused by an operator."
    request.decided_by = (actor_label or getattr(actor, "email", "") or "system")[:254]
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "reason", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="plan_request_reject",
        company=request.company,
        target=request.company.slug or "",
        before={"plan": request.company.plan.code if request.company.plan else None},
        after={"requested": request.plan.code, "reason": request.reason},
        actor_label=actor_label,
    )
    return request


# --- invoices -------------------------------------------------------------------------------


def month_bounds(day: date) -> tuple[date, date]:
    """First and last day of the month holding `day`."""
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def previous_month(today: date | None = None) -> tuple[date, date]:
    today = today or _today()
    return month_bounds(today.replace(day=1) - timedelta(days=1))


@dataclass(frozen=True)
class DraftLine:
    kind: str
    description: str
    category: str
    quantity: Decimal
    unit_price: Decimal | None
    amount: Decimal


def invoice_lines_compute(*, company: Company, start: date, end: date) -> list[DraftLine]:
    """The lines of the company's invoice for [start, end]: what an invoice would hold.

    Base fee: each plan's monthly fee * days on that plan / days in the month, rounded to
    the cent. Usage: one line per category with charged messages, the sum of their booked
    prices (each priced when booked), rounded to the cent. Free messages are counted in the
    description but cost nothing.
    """
    days_in_month = Decimal(calendar.monthrange(start.year, start.month)[1])
    lines: list[DraftLine] = []
    for plan, days in selectors.plan_days(company=company, start=start, end=end):
        if days <= 0 or plan.monthly_fee <= 0:
            continue
        amount = (plan.monthly_fee * days / days_in_month).quantize(CENT, rounding=ROUND_HALF_UP)
        # In the active language: the live estimate speaks the viewer's, the beat's issue English.
        label = gettext("%(plan)s plan, base fee") % {"plan": plan.name}
        if days != days_in_month:
            label += " " + gettext("(%(days)s of %(month_days)s days)") % {"days": days, "month_days": days_in_month}
        lines.append(DraftLine(InvoiceLine.Kind.BASE_FEE, label, "", Decimal(days), plan.monthly_fee, amount))
    for row in selectors.usage_by_category(company=company, start=start, end=end):
        if not row["charged_count"]:
            continue
        label = gettext("%(category)s messages: %(charged)s charged") % {
            "category": Category(row["category"]).label,
            "charged": row["charged_count"],
        }
        free = row["count"] - row["charged_count"]
        if free:
            label += gettext(", %(free)s free") % {"free": free}
        lines.append(
            DraftLine(
                InvoiceLine.Kind.USAGE,
                label,
                row["category"],
                Decimal(row["charged_count"]),
                None,
                Decimal(row["amount"]).quantize(CENT, rounding=ROUND_HALF_UP),
            )
        )
    return lines


def invoice_issue(*, company: Company, start: date, end: date) -> Invoice | None:
    """Issues the company's invoice for the period once; returns it (the existing one on a
    repeat), or None when there is nothing to bill (no base fee, no charged usage).

    The number comes from the counter row locked in this transaction: numbers are
    sequential without gaps, and a rollback gives the number back.
    """
    existing = Invoice.objects.filter(company=company, period_start=start).first()
    if existing is not None:
        return existing
    lines = invoice_lines_compute(company=company, start=start, end=end)
    if not lines:
        return None
    try:
        with transaction.atomic():
            counter = InvoiceCounter.objects.select_for_update().get(pk=1)
            # Checked again under the counter lock: two issuers of one period make one invoice.
            existing = Invoice.objects.filter(company=company, period_start=start).first()
            if existing is not None:
                return existing
            counter.last_number += 1
            counter.save(update_fields=["last_number"])
            invoice = Invoice.objects.create(
                company=company,
                number=counter.last_number,
                period_start=start,
                period_end=end,
                company_name=company.name,
                company_slug=company.slug or "",
                currency=CURRENCY,
                total=sum((line.amount for line in lines), Decimal("0.00")),
            )
            InvoiceLine.objects.bulk_create(
                InvoiceLine(
                    invoice=invoice,
                    position=i,
                    kind=line.kind,
                    description=line.description,
                    category=line.category,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    amount=line.amount,
                )
                for i, line in enumerate(lines, start=1)
            )
    except IntegrityError:
        # A concurrent issuer won the unique (company, period) race; its invoice stands.
        return Invoice.objects.get(company=company, period_start=start)
    logger.info("invoice %s issued company=%s total=%s", invoice.display_number, company.slug, invoice.total)
    return invoice


def invoices_issue_all(*, today: date | None = None) -> int:
    """Beat, monthly (public schema): last month's invoice of every live company; returns how
    many were issued now. Running it again issues nothing new."""
    start, end = previous_month(today)
    issued = 0
    with schema_context("public"):
        for company in Company.objects.filter(status__in=[Company.Status.ACTIVE, Company.Status.SUSPENDED]):
            before = Invoice.objects.filter(company=company, period_start=start).exists()
            try:
                invoice = invoice_issue(company=company, start=start, end=end)
            except Exception:
                logger.exception("invoice for %s (%s) failed", company.slug, start)
                continue
            issued += int(invoice is not None and not before)
    return issued


def invoice_total_check(invoice: Invoice) -> bool:
    """Whether the stored total equals the sum of its lines (used by tests and the admin)."""
    return invoice.total == sum((line.amount for line in invoice.lines.all()), Decimal("0.00"))
