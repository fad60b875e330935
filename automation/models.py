"""Automation of a company's inbox: business hours, greeting/away replies, auto-assignment,
auto-resolve. All of it lives in the company's schema (a tenant app).

`AutomationSettings` is one row per schema (pk 1): its row lock also serialises the
round-robin pointer. Per-contact and per-message rows make the automatic replies
at-most-once (see automation/services.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

SETTINGS_PK = 1


class AutomationSettings(models.Model):
    """The company's automation switches (one row, pk 1, made on first read)."""

    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    greeting_enabled = models.BooleanField(_("send a greeting"), default=False)
    greeting_text = models.TextField(_("greeting text"), blank=True)
    greeting_cooldown_hours = models.PositiveIntegerField(_("greeting at most once per (hours)"), default=24)
    away_enabled = models.BooleanField(_("send an away message"), default=False)
    away_text = models.TextField(_("away text"), blank=True)
    away_cooldown_hours = models.PositiveIntegerField(_("away message at most once per (hours)"), default=24)
    auto_assign_enabled = models.BooleanField(_("assign new threads automatically"), default=False)
    # The round-robin pointer: the agent who got the last automatic assignment.
    last_assigned_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    auto_resolve_idle_hours = models.PositiveIntegerField(
        _("resolve threads idle for (hours)"), null=True, blank=True, help_text=_("Empty: never.")
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("automation settings")
        verbose_name_plural = _("automation settings")
        constraints = [models.CheckConstraint(condition=models.Q(pk=SETTINGS_PK), name="automation_settings_single")]

    def __str__(self) -> str:
        return "Automation settings"


class OpeningInterval(models.Model):
    """One span of a weekday's business hours, in the company's time zone (wall clock).

    `closes` at or before `opens` means the span ends the next day (overnight; 00:00-00:00
    is the whole day). A span belongs to the day it starts on, holidays included.
    """

    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    opens = models.TimeField(_("opens"))
    closes = models.TimeField(_("closes"))

    class Meta:
        ordering = ["weekday", "opens"]
        constraints = [
            models.UniqueConstraint(fields=["weekday", "opens"], name="opening_interval_unique_start"),
            models.CheckConstraint(condition=models.Q(weekday__gte=0, weekday__lte=6), name="opening_interval_weekday"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class Holiday(models.Model):
    """A date (in the company's time zone) on which no business hours start."""

    date = models.DateField(_("date"), unique=True)
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}".strip()


class AgentAutomation(models.Model):
    """An agent's part in auto-assignment: opted in (by a manager), available (by the agent
    themself), and how many open threads they take at most."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="automation"
    )
    auto_assign = models.BooleanField(_("takes automatic assignments"), default=False)
    available = models.BooleanField(_("available"), default=True)
    max_open_threads = models.PositiveIntegerField(_("open threads at most"), default=10)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("agent automation")

    def __str__(self) -> str:
        return f"{self.user}: {'available' if self.available else 'away'}"


class ContactAutomation(models.Model):
    """When a contact last got each automatic reply: the once-per-period claim.

    A conditional UPDATE (`… WHERE greeted_at IS NULL OR greeted_at < now - period`) claims
    a reply, so two inbound messages processed at once send it once.
    """

    contact = models.OneToOneField("inbox.Contact", on_delete=models.CASCADE, primary_key=True, related_name="+")
    greeted_at = models.DateTimeField(null=True, blank=True)
    away_sent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Automation of contact {self.contact_id}"


class AutoReply(models.Model):
    """One automatic reply considered for one inbound message: the per-wamid idempotency
    record (a repeated task finds the row and does nothing) and the audit of what was sent.

    `sent_message` is empty when the rule matched but the reply was held back (sent to
    this customer within the period, window closed, opted out).
    """

    class Kind(models.TextChoices):
        GREETING = "greeting", _("Greeting")
        AWAY = "away", _("Away message")

    inbound = models.ForeignKey("inbox.Message", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    sent_message = models.ForeignKey(
        "inbox.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    skipped_reason = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["inbound", "kind"], name="auto_reply_once_per_message")]

    def __str__(self) -> str:
        return f"{self.kind} for message {self.inbound_id}"
