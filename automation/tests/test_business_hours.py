"""Business hours: `is_open` on the company's wall clock (DST, overnight spans, holidays)
and the validation of `business_hours_set`."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from automation import selectors, services
from automation.selectors import BusinessHours, Span
from automation.services import HolidayInput, IntervalInput
from tenants.models import Company

BERLIN = ZoneInfo("Europe/Berlin")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def _hours(*spans: tuple[int, str, str], holidays: tuple[date, ...] = (), zone: ZoneInfo = BERLIN) -> BusinessHours:
    return BusinessHours(
        zone=zone,
        spans=tuple(Span(day, time.fromisoformat(a), time.fromisoformat(b)) for day, a, b in spans),
        holidays=frozenset(holidays),
    )


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("at_utc", "expected"),
    [
        # Winter (UTC+1): 09:00 Berlin is 08:00 UTC.
        ("2026-03-27 07:59", False),
        ("2026-03-27 08:00", True),
        ("2026-03-27 15:59", True),
        ("2026-03-27 16:00", False),
        # Summer after the spring change on Sunday 29 March (UTC+2): 09:00 Berlin is 07:00 UTC.
        ("2026-03-30 06:59", False),
        ("2026-03-30 07:00", True),
        ("2026-03-30 14:59", True),
        ("2026-03-30 15:00", False),
        # Back to winter after 25 October: 09:00 is 08:00 UTC again.
        ("2026-10-26 07:30", False),
        ("2026-10-26 08:00", True),
    ],
)
def test_weekday_hours_follow_the_wall_clock_across_dst(at_utc: str, expected: bool) -> None:
    hours = _hours(*[(day, "09:00", "17:00") for day in (MON, TUE, WED, THU, FRI)])
    assert hours.is_open(_utc(at_utc)) is expected


@pytest.mark.parametrize(
    ("at_utc", "expected"),
    [
        # The night of the spring change (Sat 28 → Sun 29 March): 02:00-03:00 does not exist.
        ("2026-03-28 21:00", True),  # Sat 22:00 CET
        ("2026-03-29 00:59", True),  # Sun 01:59 CET
        ("2026-03-29 01:00", True),  # Sun 03:00 CEST (the clock jumped)
        ("2026-03-29 01:59", True),  # Sun 03:59 CEST
        ("2026-03-29 02:00", False),  # Sun 04:00 CEST: closed
        # The night of the autumn change (Sat 24 → Sun 25 October): 02:00-03:00 happens twice.
        ("2026-10-25 00:30", True),  # 02:30 CEST
        ("2026-10-25 01:30", True),  # 02:30 CET, the second time
        ("2026-10-25 02:59", True),  # 03:59 CET
        ("2026-10-25 03:00", False),  # 04:00 CET
    ],
)
def test_an_overnight_span_runs_into_the_next_day_across_dst(at_utc: str, expected: bool) -> None:
    hours = _hours((SAT, "18:00", "04:00"))
    assert hours.is_open(_utc(at_utc)) is expected


def test_a_sunday_night_span_runs_into_monday() -> None:
    hours = _hours((SUN, "20:00", "02:00"))
    assert hours.is_open(datetime(2026, 6, 7, 23, 0, tzinfo=BERLIN)) is True  # Sunday
    assert hours.is_open(datetime(2026, 6, 8, 1, 59, tzinfo=BERLIN)) is True  # Monday
    assert hours.is_open(datetime(2026, 6, 8, 2, 0, tzinfo=BERLIN)) is False
    assert hours.is_open(datetime(2026, 6, 7, 19, 59, tzinfo=BERLIN)) is False


def test_several_spans_a_day_leave_the_lunch_break_closed() -> None:
    hours = _hours((MON, "09:00", "12:00"), (MON, "14:00", "18:00"))
    assert hours.is_open(datetime(2026, 6, 8, 11, 59, tzinfo=BERLIN)) is True
    assert hours.is_open(datetime(2026, 6, 8, 12, 0, tzinfo=BERLIN)) is False
    assert hours.is_open(datetime(2026, 6, 8, 13, 59, tzinfo=BERLIN)) is False
    assert hours.is_open(datetime(2026, 6, 8, 14, 0, tzinfo=BERLIN)) is True


def test_midnight_to_midnight_is_the_whole_day() -> None:
    hours = _hours((TUE, "00:00", "00:00"))
    assert hours.is_open(datetime(2026, 6, 9, 0, 0, tzinfo=BERLIN)) is True
    assert hours.is_open(datetime(2026, 6, 9, 23, 59, tzinfo=BERLIN)) is True
    assert hours.is_open(datetime(2026, 6, 10, 0, 0, tzinfo=BERLIN)) is False
    assert hours.is_open(datetime(2026, 6, 8, 23, 59, tzinfo=BERLIN)) is False


def test_a_holiday_cancels_the_spans_starting_that_day_only() -> None:
    # Christmas Day 2026 is a Friday; Thursday's night shift still runs past midnight into it.
    hours = _hours((THU, "20:00", "02:00"), (FRI, "09:00", "17:00"), holidays=(date(2026, 12, 25),))
    assert hours.is_open(datetime(2026, 12, 25, 1, 0, tzinfo=BERLIN)) is True
    assert hours.is_open(datetime(2026, 12, 25, 10, 0, tzinfo=BERLIN)) is False
    assert hours.is_open(datetime(2027, 1, 1, 10, 0, tzinfo=BERLIN)) is True  # an ordinary Friday


def test_the_holiday_date_is_read_in_the_company_zone() -> None:
    # 23:30 UTC on 24 December is already the 25th in Berlin.
    hours = _hours(*[(day, "00:00", "00:00") for day in range(7)], holidays=(date(2026, 12, 25),))
    assert hours.is_open(_utc("2026-12-24 22:59")) is True
    assert hours.is_open(_utc("2026-12-24 23:30")) is False


def test_no_hours_at_all_means_always_open(tenant_a: Company) -> None:
    assert selectors.is_open(at=_utc("2026-06-07 03:00")) is True


def test_stored_hours_are_used_by_is_open(tenant_a: Company) -> None:
    # given
    services.business_hours_set(
        time_zone="America/New_York",
        intervals=[IntervalInput(MON, time(9), time(17))],
        holidays=[HolidayInput(date(2026, 9, 7), "Labor Day")],
    )
    # then: 09:00 in New York (EDT, UTC-4) is 13:00 UTC
    assert selectors.is_open(at=_utc("2026-06-08 12:59")) is False
    assert selectors.is_open(at=_utc("2026-06-08 13:00")) is True
    assert selectors.is_open(at=_utc("2026-09-07 14:00")) is False


def test_setting_hours_replaces_the_old_ones(tenant_a: Company) -> None:
    services.business_hours_set(time_zone="UTC", intervals=[IntervalInput(MON, time(9), time(17))], holidays=[])
    services.business_hours_set(
        time_zone="Europe/Berlin", intervals=[IntervalInput(TUE, time(8), time(12))], holidays=[]
    )
    assert [(i.weekday, i.opens) for i in selectors.opening_interval_list()] == [(TUE, time(8))]
    assert selectors.automation_settings_get().time_zone == "Europe/Berlin"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "CET+1", "../../etc/passwd"])
def test_an_unknown_time_zone_is_refused(tenant_a: Company, zone: str) -> None:
    with pytest.raises(ValidationError) as caught:
        services.business_hours_set(time_zone=zone, intervals=[], holidays=[])
    assert "time_zone" in caught.value.message_dict
    assert selectors.automation_settings_get().time_zone == "UTC"


def test_overlapping_spans_are_refused_and_nothing_changes(tenant_a: Company) -> None:
    # given
    services.business_hours_set(time_zone="UTC", intervals=[IntervalInput(MON, time(9), time(17))], holidays=[])
    # when: Sunday's night span runs into Monday 09:00-17:00
    with pytest.raises(ValidationError) as caught:
        services.business_hours_set(
            time_zone="UTC",
            intervals=[IntervalInput(MON, time(9), time(17)), IntervalInput(SUN, time(22), time(10))],
            holidays=[],
        )
    # then
    assert set(caught.value.message_dict) == {"intervals.1.opens"}
    assert [(i.weekday, i.opens) for i in selectors.opening_interval_list()] == [(MON, time(9))]


def test_a_holiday_listed_twice_is_refused(tenant_a: Company) -> None:
    with pytest.raises(ValidationError) as caught:
        services.business_hours_set(
            time_zone="UTC",
            intervals=[],
            holidays=[HolidayInput(date(2026, 12, 25)), HolidayInput(date(2026, 12, 25), "Again")],
        )
    assert set(caught.value.message_dict) == {"holidays.1.date"}
