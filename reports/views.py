"""Report pages (company host): conversations by day/agent/label and the broadcast funnel.

Owners and admins see the whole company; an agent sees their own numbers by day. Every
page reads only the rollup tables (reports/selectors.py); `?format=csv` exports what the
page shows.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.models import User
from reports import charts, selectors, services
from reports.forms import ReportFilterForm

View = Callable[..., HttpResponse]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def manager_required(view: View) -> View:
    """Logged in as an owner or admin; agents get the readable 403 page."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.can_manage_team:  # type: ignore[union-attr]
            message = _("Only the company's owners and admins see broadcast reports.")
            return render(request, "accounts/forbidden.html", {"message": message}, status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _cell(value: Any) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is made plain text."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _number(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _csv_response(rows: list[list[Any]], filename: str) -> HttpResponse:
    out = StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _today() -> Any:
    return datetime.now(ZoneInfo(selectors.company_time_zone())).date()


@never_cache
@require_GET
@login_required
def report_overview(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    # Always bound: no parameters at all means the defaults (the last 30 days, by day).
    form = ReportFilterForm(request.GET, today=_today())
    if not form.is_valid():
        return render(request, "reports/overview.html", {"form": form, "report": None}, status=400)
    data = form.cleaned_data
    agent = None if user.can_manage_team else user
    report = selectors.report_build(start=data["start"], end=data["end"], group=data["group"], agent=agent)
    if request.GET.get("format") == "csv":
        return _report_csv(report)
    context = {
        "form": form,
        "report": report,
        "own_only": agent is not None,
        "chart": charts.bar_chart(report),
        "csv_query": _csv_query(request),
    }
    return render(request, "reports/overview.html", context)


def _csv_query(request: HttpRequest) -> str:
    query = request.GET.copy()
    query["format"] = "csv"
    return query.urlencode()


def _report_csv(report: selectors.Report) -> HttpResponse:
    first = {"day": _("Day"), "agent": _("Agent"), "label": _("Label")}[report.group]
    header = [
        first,
        _("Conversations opened"),
        _("Conversations resolved"),
        _("First responses"),
        _("Average first response (s)"),
        _("Average resolution (s)"),
        _("Ratings"),
        _("Average rating"),
    ]
    rows: list[list[Any]] = [header]
    for row in [*report.rows, report.total]:
        rows.append(
            [
                row.label,
                row.opened,
                row.resolved,
                row.responded,
                _number(row.first_response_avg),
                _number(row.resolution_avg),
                row.csat_count,
                _number(row.csat_avg, 2),
            ]
        )
    filename = f"report-{report.group}-{report.start:%Y%m%d}-{report.end:%Y%m%d}.csv"
    return _csv_response(rows, filename)


@never_cache
@require_GET
@manager_required
def report_broadcasts(request: HttpRequest) -> HttpResponse:
    rows = selectors.funnel_list()
    if request.GET.get("format") == "csv":
        header = [
            _("Broadcast"),
            _("Started"),
            _("Sent"),
            _("Delivered"),
            _("Read"),
            _("Replied"),
            _("Failed"),
            _("Counted at"),
        ]
        lines: list[list[Any]] = [header]
        for r in rows:
            lines.append(
                [
                    r.broadcast.name,
                    r.broadcast.started_at.isoformat() if r.broadcast.started_at else "",
                    r.sent,
                    r.delivered,
                    r.read,
                    r.replied,
                    r.failed,
                    r.computed_at.isoformat() if r.computed_at else "",
                ]
            )
        return _csv_response(lines, f"broadcast-funnel-{timezone.now():%Y%m%d-%H%M}.csv")
    reply_hours = int(services.REPLY_WINDOW.total_seconds() // 3600)
    return render(request, "reports/broadcasts.html", {"rows": rows, "reply_hours": reply_hours})
