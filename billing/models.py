"""Billing (public schema): plans and their rate cards, limit counters, the usage ledger, invoices.

Plans are data: every limit and price is a column or a row an operator edits in the admin;
no code path branches on a plan's code. Money is `Decimal` with an explicit currency (EUR).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

CURRENCY = "EUR"
ANY_MARKET = "*"


class Category(models.TextChoices):
    """WhatsApp's pricing categories (whatsapp-platform.md §3.2, §4.2)."""

    MARKETING = "marketing", _("Marketing")
    UTILITY = "utility", _("Utility")
    AUTHENTICATION = "authentication", _("Authentication")
    SERVICE = "service", _("Service")


class Plan(models.Model):
    """A price plan. Limits are columns operators edit, never code branches (so there is
    deliberately no enum of plan codes: operators may add plans).

    A limit of None means unlimited.
    """

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    max_agents = models.PositiveIntegerField(null=True, blank=True)
    max_phone_numbers = models.PositiveIntegerField(null=True, blank=True)
    max_broadcast_recipients = models.PositiveIntegerField(
        null=True, blank=True, help_text="Recipients per broadcast; empty = unlimited."
    )
    max_business_initiated_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Template messages per UTC day (replies in the window do not count)."
    )
    unverified_broadcast_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Recipients per broadcast while the company is not verified."
    )
    api_requests_per_minute = models.PositiveIntegerField(default=300, help_text="Per API key.")
    outgoing_webhooks = models.BooleanField(default=False, help_text="Webhook subscriptions allowed.")
    monthly_fee = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0.00"))
    currency = models.CharField(max_length=3, default=CURRENCY, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["monthly_fee", "id"]

    def __str__(self) -> str:
        return self.name


class RatePrice(models.Model):
    """One rate-card entry: the price of one message of `category` to `market` on `plan`.

    `market` is an ISO country code of the recipient's number (DE, US, …) or "*", the plan's
    default for every market without its own row. No row at all means the plan includes
    the message (price 0.00).
    """

    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="rates")
    category = models.CharField(max_length=16, choices=Category.choices)
    market = models.CharField(max_length=2, default=ANY_MARKET, help_text='ISO country code, or "*" for the default.')
    unit_price = models.DecimalField(max_digits=10, decimal_places=4)

    class Meta:
        ordering = ["plan", "category", "market"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "category", "market"], name="rateprice_unique"),
            models.CheckConstraint(condition=models.Q(unit_price__gte=0), name="rateprice_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.plan} {self.category} {self.market}: {self.unit_price} {CURRENCY}"

    def clean(self) -> None:
        self.market = (self.market or "").strip().upper()
        if self.market != ANY_MARKET and not (len(self.market) == 2 and self.market.isalpha()):
            raise ValidationError({"market": ['Give a two-letter country code (DE, US, …) or "*".']})


class Subscription(models.Model):
    """One span of a company on one plan: [started_at, ended_at). The open one is current.

    `Company.plan` is the plan in force (what limits read); these rows are its history,
    which the monthly invoice prorates the base fee by.
    """

    company = models.ForeignKey("tenants.Company", on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["company", "started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["company"], condition=models.Q(ended_at__isnull=True), name="subscription_one_open"
            )
        ]

    def __str__(self) -> str:
        return f"{self.company} on {self.plan} from {self.started_at:%Y-%m-%d}"


class PlanChangeRequest(models.Model):
    """An owner's request to move to another plan, decided by an operator."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    company = models.ForeignKey("tenants.Company", on_delete=models.CASCADE, related_name="plan_requests")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    requested_by = models.CharField(max_length=254, help_text="E-mail of the agent (users live in the company).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    reason = models.TextField(blank=True, help_text="Why it was refused.")
    decided_by = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["company"], condition=models.Q(status="pending"), name="planchangerequest_one_pending"
            )
        ]

    def __str__(self) -> str:
        return f"{self.company} → {self.plan} ({self.status})"


class LimitCounter(models.Model):
    """Units of a counted limit used by a company on one UTC day (business-initiated messages).

    Reserved with one conditional UPDATE (`used + n <= allowed`) inside the sender's
    transaction, so concurrent senders cannot overshoot and a rolled-back send frees its units.
    """

    company = models.ForeignKey("tenants.Company", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    name = models.CharField(max_length=40)
    used = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["company", "day", "name"], name="limitcounter_unique")]

    def __str__(self) -> str:
        return f"{self.company} {self.day} {self.name}: {self.used}"


class _AppendOnly(models.Model):
    """Rows written once and never changed (guarded here and by a database trigger)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValidationError(_("A %(name)s cannot be changed once written.") % {"name": self._meta.verbose_name})
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ValidationError(_("A %(name)s cannot be deleted.") % {"name": self._meta.verbose_name})


class UsageRecord(_AppendOnly):
    """The usage ledger: one row per billable outbound message, booked once (unique per message).

    Priced when booked (at delivery, as WhatsApp bills): the plan's rate at that moment is
    copied, so later rate changes never alter what was booked.
    """

    class Reason(models.TextChoices):
        CHARGED = "charged", _("Charged")
        SERVICE = "free_customer_service", _("Free: service reply")
        UTILITY_IN_WINDOW = "utility_in_window", _("Free: utility inside the 24-hour window")
        INCLUDED = "included_in_plan", _("Included in the plan")

    company = models.ForeignKey("tenants.Company", on_delete=models.PROTECT, related_name="+")
    message_id = models.UUIDField(help_text="The message's public id in the company's schema.")
    category = models.CharField(max_length=16, choices=Category.choices)
    market = models.CharField(max_length=2, help_text='Recipient\'s country, or "*" when unknown.')
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="+")
    unit_price = models.DecimalField(max_digits=10, decimal_places=4)
    charged = models.BooleanField()
    reason = models.CharField(max_length=24, choices=Reason.choices)
    currency = models.CharField(max_length=3, default=CURRENCY)
    booked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-booked_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["company", "message_id"], name="usagerecord_once")]
        indexes = [models.Index(fields=["company", "booked_at"], name="usagerecord_company_time")]

    def __str__(self) -> str:
        return f"{self.category} {self.market} {self.unit_price} ({self.reason})"

    @property
    def amount(self) -> Decimal:
        return self.unit_price if self.charged else Decimal("0")


class UsageDaily(models.Model):
    """Rollup of the ledger per company, UTC day and category, moved in the booking statement."""

    company = models.ForeignKey("tenants.Company", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    category = models.CharField(max_length=16, choices=Category.choices)
    count = models.PositiveIntegerField(default=0)
    charged_count = models.PositiveIntegerField(default=0)
    amount = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))

    class Meta:
        ordering = ["day", "category"]
        constraints = [models.UniqueConstraint(fields=["company", "day", "category"], name="usagedaily_unique")]

    def __str__(self) -> str:
        return f"{self.company} {self.day} {self.category}: {self.count}"


class InvoiceCounter(models.Model):
    """The last invoice number issued: locked in the issuing transaction, so numbers have no gaps."""

    last_number = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"last invoice {self.last_number}"


class Invoice(_AppendOnly):
    """A monthly invoice, issued complete in one transaction and immutable afterwards."""

    company = models.ForeignKey("tenants.Company", on_delete=models.PROTECT, related_name="invoices")
    number = models.PositiveIntegerField(unique=True)
    period_start = models.DateField()
    period_end = models.DateField(help_text="Last day of the period (inclusive).")
    company_name = models.CharField(max_length=200)
    company_slug = models.CharField(max_length=40)
    currency = models.CharField(max_length=3, default=CURRENCY)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    issued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period_start", "-number"]
        constraints = [models.UniqueConstraint(fields=["company", "period_start"], name="invoice_one_per_period")]

    def __str__(self) -> str:
        return self.display_number

    @property
    def display_number(self) -> str:
        return f"KT-{self.number:06d}"


class InvoiceLine(_AppendOnly):
    """One line of an invoice: the (prorated) base fee of a plan, or one usage category."""

    class Kind(models.TextChoices):
        BASE_FEE = "base_fee", _("Base fee")
        USAGE = "usage", _("Usage")

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    description = models.CharField(max_length=200)
    category = models.CharField(max_length=16, choices=Category.choices, blank=True)
    quantity = models.DecimalField(max_digits=14, decimal_places=4)
    unit_price = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["invoice", "position"]
        constraints = [models.UniqueConstraint(fields=["invoice", "position"], name="invoiceline_position")]

    def __str__(self) -> str:
        return self.description
