"""Forms of Settings → Automation. Business hours are typed the way people write them on a
shop door ("09:00-12:00, 14:00-18:00" per weekday; holidays one per line)."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, time
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from automation import services
from automation.models import OpeningInterval
from automation.services import HolidayInput, IntervalInput

SPAN_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-\u2013]\s*(\d{1,2}):(\d{2})\s*$")
HOLIDAY_RE = re.compile(r"^\s*(\d{4}-\d{2}-\d{2})\s*(.*)$")
WEEKDAY_FIELDS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class AutomationForm(forms.Form):
    greeting_enabled = forms.BooleanField(label=_("Send a greeting on a customer's first message"), required=False)
    greeting_text = forms.CharField(
        label=_("Greeting"), required=False, max_length=4096, widget=forms.Textarea(attrs={"rows": 3})
    )
    greeting_cooldown_hours = forms.IntegerField(
        label=_("At most once per customer per (hours)"), min_value=1, max_value=services.COOLDOWN_MAX_HOURS
    )
    away_enabled = forms.BooleanField(label=_("Send an away message outside business hours"), required=False)
    away_text = forms.CharField(
        label=_("Away message"), required=False, max_length=4096, widget=forms.Textarea(attrs={"rows": 3})
    )
    away_cooldown_hours = forms.IntegerField(
        label=_("At most once per customer per (hours)"), min_value=1, max_value=services.COOLDOWN_MAX_HOURS
    )
    auto_assign_enabled = forms.BooleanField(
        label=_("Assign new threads round-robin to available agents"), required=False
    )
    auto_resolve_idle_hours = forms.IntegerField(
        label=_("Resolve threads idle for (hours)"),
        required=False,
        min_value=1,
        max_value=services.IDLE_MAX_HOURS,
        help_text=_(
            "No message either way for this long. Leave empty to never resolve automatically. With the "
            "satisfaction survey on, the customer is asked for a rating as after any resolve, but only inside "
            "the 24-hour window: with 24 hours or more, nobody is asked."
        ),
    )


def _spans_parse(text: str, weekday: int) -> list[IntervalInput]:
    spans = []
    for part in (p for p in text.split(",") if p.strip()):
        match = SPAN_RE.match(part)
        if not match:
            raise forms.ValidationError(gettext("Write spans like 09:00-12:00, 14:00-18:00."))
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h2 == 24 and m2 == 0:
            h2 = 0  # "-24:00" is midnight
        if not (h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60):
            raise forms.ValidationError(gettext("%(span)s is not a time of day.") % {"span": part.strip()})
        spans.append(IntervalInput(weekday, time(h1, m1), time(h2, m2)))
    return spans


class BusinessHoursForm(forms.Form):
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=())
    monday = forms.CharField(label=_("Monday"), required=False, max_length=200)
    tuesday = forms.CharField(label=_("Tuesday"), required=False, max_length=200)
    wednesday = forms.CharField(label=_("Wednesday"), required=False, max_length=200)
    thursday = forms.CharField(label=_("Thursday"), required=False, max_length=200)
    friday = forms.CharField(label=_("Friday"), required=False, max_length=200)
    saturday = forms.CharField(label=_("Saturday"), required=False, max_length=200)
    sunday = forms.CharField(label=_("Sunday"), required=False, max_length=200)
    holidays = forms.CharField(
        label=_("Holidays"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line: a date and an optional name, e.g. 2026-12-25 Christmas Day."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(z, z) for z in sorted(zoneinfo.available_timezones())]  # type: ignore[attr-defined]

    def clean_holidays(self) -> list[HolidayInput]:
        found = []
        for number, line in enumerate(self.cleaned_data["holidays"].splitlines(), start=1):
            if not line.strip():
                continue
            match = HOLIDAY_RE.match(line)
            try:
                day = date.fromisoformat(match.group(1)) if match else None
            except ValueError:
                day = None
            if match is None or day is None:
                raise forms.ValidationError(
                    gettext("Line %(line)d: start with a date like 2026-12-25.") % {"line": number}
                )
            found.append(HolidayInput(day, match.group(2).strip()[:100]))
        return found

    def intervals(self) -> list[IntervalInput]:
        return [span for name in WEEKDAY_FIELDS for span in self.cleaned_data[name]]

    def full_clean(self) -> None:
        super().full_clean()
        if not hasattr(self, "cleaned_data"):
            return
        for weekday, name in enumerate(WEEKDAY_FIELDS):
            if name in self.cleaned_data and isinstance(self.cleaned_data[name], str):
                try:
                    self.cleaned_data[name] = _spans_parse(self.cleaned_data[name], weekday)
                except forms.ValidationError as exc:
                    self.add_error(name, exc)

    @staticmethod
    def initial_from(*, time_zone: str, intervals: list[OpeningInterval], holidays: list[Any]) -> dict[str, Any]:
        initial: dict[str, Any] = {"time_zone": time_zone}
        for weekday, name in enumerate(WEEKDAY_FIELDS):
            initial[name] = ", ".join(f"{i.opens:%H:%M}-{i.closes:%H:%M}" for i in intervals if i.weekday == weekday)
        initial["holidays"] = "\n".join(f"{h.date:%Y-%m-%d} {h.name}".strip() for h in holidays)
        return initial


class AgentAutomationForm(forms.Form):
    auto_assign = forms.BooleanField(label=_("Takes automatic assignments"), required=False)
    max_open_threads = forms.IntegerField(
        label=_("Open threads at most"), min_value=1, max_value=services.AGENT_CAP_MAX
    )
