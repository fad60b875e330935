"""Reads of the automation rules: settings, business hours and `is_open`, agents' capacity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from automation.models import SETTINGS_PK, AgentAutomation, AutomationSettings, Holiday, OpeningInterval
from inbox.models import Thread

# Threads that count against an agent's cap: everything not resolved or snoozed.
CAP_STATUSES = (Thread.Status.OPEN, Thread.Status.PENDING)


def automation_settings_get() -> AutomationSettings:
    """The company's settings row, made with the defaults (all off) on first read."""
    found, _ = AutomationSettings.objects.get_or_create(pk=SETTINGS_PK)
    return found


def zone_get(name: str) -> ZoneInfo:
    """The IANA zone `name`; UTC if the stored name is no longer known to this system."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Span:
    """One interval as wall-clock times, in the form `is_open` compares."""

    weekday: int
    opens: time
    closes: time

    @property
    def overnight(self) -> bool:
        return self.closes <= self.opens


@dataclass(frozen=True)
class BusinessHours:
    zone: ZoneInfo
    spans: tuple[Span, ...]
    holidays: frozenset[date]

    def is_open(self, at: datetime) -> bool:
        """Whether `at` (aware) falls in business hours, read on the company's wall clock.

        A span belongs to the day it starts on: a holiday cancels the spans starting that
        day, while the after-midnight part of the evening before still counts. Wall-clock
        comparison keeps "09:00-17:00" right across DST changes (the UTC offset moves,
        the opening time does not).
        """
        local = at.astimezone(self.zone)
        today, now = local.date(), local.time().replace(tzinfo=None)
        yesterday = today - timedelta(days=1)
        for span in self.spans:
            if span.weekday == today.weekday() and today not in self.holidays:
                if span.overnight and now >= span.opens:
                    return True
                if not span.overnight and span.opens <= now < span.closes:
                    return True
            started_yesterday = span.weekday == yesterday.weekday() and yesterday not in self.holidays
            if span.overnight and started_yesterday and now < span.closes:
                return True
        return False


def business_hours_get() -> BusinessHours:
    """The company's hours in one object (three small queries), for `is_open` checks."""
    settings = automation_settings_get()
    spans = tuple(Span(i.weekday, i.opens, i.closes) for i in OpeningInterval.objects.all())
    holidays = frozenset(Holiday.objects.values_list("date", flat=True))
    return BusinessHours(zone=zone_get(settings.time_zone), spans=spans, holidays=holidays)


def is_open(*, at: datetime | None = None) -> bool:
    """Whether the company is open at `at` (default now). No hours set at all means always
    open: a company that never configured hours gets no away messages."""
    hours = business_hours_get()
    if not hours.spans:
        return True
    return hours.is_open(at or timezone.now())


def opening_interval_list() -> QuerySet[OpeningInterval]:
    return OpeningInterval.objects.order_by("weekday", "opens")


def holiday_list() -> QuerySet[Holiday]:
    return Holiday.objects.order_by("date")


def agent_automation_get(*, user: User) -> AgentAutomation:
    """The agent's row, made with the defaults (not opted in, available) on first read."""
    found, _ = AgentAutomation.objects.get_or_create(user=user)
    return found


def agent_list_with_load() -> QuerySet[User]:
    """Active agents with `open_threads` (their threads counting against the cap) and their
    automation row (`automation`, may be missing: read through `agent_automation_of`)."""
    return (
        User.objects.filter(is_active=True)
        .select_related("automation")
        .annotate(open_threads=Count("assigned_threads", filter=Q(assigned_threads__status__in=CAP_STATUSES)))
        .order_by("id")
    )


def agent_automation_of(user: User) -> AgentAutomation:
    """The agent's automation row if it exists, else an unsaved one with the defaults."""
    try:
        return user.automation  # type: ignore[no-any-return]
    except AgentAutomation.DoesNotExist:
        return AgentAutomation(user=user)
