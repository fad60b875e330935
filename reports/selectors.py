"""Reads for the report pages: only the rollup tables (and names), never inbox_message.

A year of a busy company is at most 366 rows per agent or label, summed by PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db.models import Sum
from django.utils.translation import gettext as _

from accounts.models import User
from inbox.models import Broadcast, Label
from reports.models import BroadcastFunnel, DailyStat

GROUPS = ("day", "agent", "label")
SUM_FIELDS = (
    "opened",
    "resolved",
    "resolution_seconds",
    "responded",
    "first_response_seconds",
    "csat_count",
    "csat_sum",
)


def company_time_zone() -> str:
    """The zone company-local days are counted in: automation's business-hours zone, else UTC.

    Read defensively: the automation app owns that table; a missing row or an unknown name
    means UTC (docs/reports.md, "Days").
    """
    try:
        from automation.models import AutomationSettings
    except ImportError:  # pragma: no cover - the app is part of TENANT_APPS
        return "UTC"
    name = AutomationSettings.objects.filter(pk=1).values_list("time_zone", flat=True).first() or "UTC"
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name


def day_start(*, day: date, tz: str) -> datetime:
    """The instant company-local `day` begins."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(tz))


@dataclass
class ReportRow:
    """One line of a report: a day, an agent or a label, with sums and the averages shown."""

    key: object
    label: str
    opened: int = 0
    resolved: int = 0
    resolution_seconds: float = 0.0
    responded: int = 0
    first_response_seconds: float = 0.0
    csat_count: int = 0
    csat_sum: int = 0

    @property
    def first_response_avg(self) -> float | None:
        return self.first_response_seconds / self.responded if self.responded else None

    @property
    def resolution_avg(self) -> float | None:
        return self.resolution_seconds / self.resolved if self.resolved else None

    @property
    def csat_avg(self) -> float | None:
        return self.csat_sum / self.csat_count if self.csat_count else None


@dataclass
class Report:
    group: str
    start: date
    end: date
    rows: list[ReportRow] = field(default_factory=list)
    total: ReportRow = field(default_factory=lambda: ReportRow(key=None, label=""))


def _row(key: object, label: str, values: dict[str, object]) -> ReportRow:
    return ReportRow(key=key, label=label, **{f: values.get(f) or 0 for f in SUM_FIELDS})  # type: ignore[arg-type]


def report_build(*, start: date, end: date, group: str, agent: User | None = None) -> Report:
    """The report for company-local days `start`..`end` (inclusive), grouped by `group`.

    `agent` limits it to that agent's own numbers (the agent dimension, by day): what an
    agent without the manager role sees.
    """
    if group not in GROUPS:
        raise ValueError(f"Unknown grouping {group!r}")
    report = Report(group=group, start=start, end=end)
    base = DailyStat.objects.filter(day__gte=start, day__lte=end)
    sums = {f: Sum(f) for f in SUM_FIELDS}
    if agent is not None:
        base = base.filter(dimension=DailyStat.Dimension.AGENT, key=agent.pk)
        group = report.group = "day"
    if group == "day":
        if agent is None:
            base = base.filter(dimension=DailyStat.Dimension.ALL, key=0)
        found = {r["day"]: r for r in base.values("day").annotate(**sums).order_by("day")}
        day = start
        while day <= end:
            report.rows.append(_row(day, day.isoformat(), found.get(day, {})))
            day += timedelta(days=1)
    else:
        dimension = DailyStat.Dimension.AGENT if group == "agent" else DailyStat.Dimension.LABEL
        found = list(base.filter(dimension=dimension).values("key").annotate(**sums).order_by("key"))
        keys = [r["key"] for r in found if r["key"]]
        if group == "agent":
            names = {u.pk: u.name or u.email for u in User.objects.filter(pk__in=keys).only("name", "email")}
            none_label = _("Unassigned")
        else:
            names = dict(Label.objects.filter(pk__in=keys).values_list("pk", "name"))
            none_label = _("No label")
        for r in found:
            name = names.get(r["key"], none_label if not r["key"] else _("Deleted (#%(id)s)") % {"id": r["key"]})
            report.rows.append(_row(r["key"], name, r))
        report.rows.sort(key=lambda row: (-row.opened, -row.resolved, row.label.lower()))
    # Totals: every conversation once (labels would count a two-label thread twice).
    total_base = DailyStat.objects.filter(day__gte=start, day__lte=end)
    if agent is not None:
        total_base = total_base.filter(dimension=DailyStat.Dimension.AGENT, key=agent.pk)
    else:
        total_base = total_base.filter(dimension=DailyStat.Dimension.ALL, key=0)
    if group == "day":
        total = {f: sum(getattr(r, f) for r in report.rows) for f in SUM_FIELDS}
    else:
        total = total_base.aggregate(**sums)
    report.total = _row(None, _("Total"), total)
    return report


@dataclass
class FunnelRow:
    broadcast: Broadcast
    sent: int
    delivered: int
    read: int
    replied: int
    failed: int
    computed_at: datetime | None

    def rate(self, value: int) -> float | None:
        return 100.0 * value / self.sent if self.sent else None

    @property
    def delivered_pct(self) -> float | None:
        return self.rate(self.delivered)

    @property
    def read_pct(self) -> float | None:
        return self.rate(self.read)

    @property
    def replied_pct(self) -> float | None:
        return self.rate(self.replied)


def funnel_list(*, limit: int = 200) -> list[FunnelRow]:
    """The funnel of the latest started broadcasts (zeros until the rollup has seen one)."""
    broadcasts = list(
        Broadcast.objects.filter(started_at__isnull=False)
        .only("public_id", "name", "status", "started_at", "total")
        .order_by("-started_at", "-id")[:limit]
    )
    funnels = {f.broadcast_id: f for f in BroadcastFunnel.objects.filter(broadcast_id__in=[b.pk for b in broadcasts])}
    rows = []
    for b in broadcasts:
        f = funnels.get(b.pk)
        rows.append(
            FunnelRow(
                broadcast=b,
                sent=f.sent if f else 0,
                delivered=f.delivered if f else 0,
                read=f.read if f else 0,
                replied=f.replied if f else 0,
                failed=f.failed if f else 0,
                computed_at=f.computed_at if f else None,
            )
        )
    return rows
