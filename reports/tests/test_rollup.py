"""Episodes, metrics and the incremental rollup, on hand-made threads with a controlled clock."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tenants.utils import schema_context

from accounts.models import User
from conftest import Persona
from inbox.models import Message, Thread
from inbox.services.threads import thread_assign, thread_labels_set, thread_record_inbound, thread_status_set
from inbox.tests.factories import LabelFactory, MessageFactory, OutboundMessageFactory, ThreadFactory
from reports.models import DailyStat, Episode, ThreadStatusEvent
from reports.services import reports_rollup
from reports.tests.factories import CsatResponseFactory
from tenants.models import Company

Clock = Callable[[datetime], AbstractContextManager[None]]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)


def inbound(clock: Clock, thread: Thread, at: datetime) -> Message:
    with clock(at):
        message = MessageFactory(thread=thread)
        thread_record_inbound(thread=thread, message=message)
    return message


def outbound(clock: Clock, thread: Thread, at: datetime, by: User | None, **extra: object) -> Message:
    with clock(at):
        return OutboundMessageFactory(thread=thread, sent_by=by, accepted=True, **extra)


def resolve(clock: Clock, thread: Thread, at: datetime) -> None:
    with clock(at):
        thread.refresh_from_db()
        thread_status_set(thread=thread, status=Thread.Status.RESOLVED)


def fresh(persona: Persona) -> User:
    """The persona's user as stored (the session's shared object may carry another test's edits)."""
    return User.objects.get(pk=persona.user.pk)


def numbers(dimension: int = DailyStat.Dimension.ALL, key: int = 0) -> dict[date, tuple[object, ...]]:
    return {
        s.day: (
            s.opened,
            s.resolved,
            s.resolution_seconds,
            s.responded,
            s.first_response_seconds,
            s.csat_count,
            s.csat_sum,
        )
        for s in DailyStat.objects.filter(dimension=dimension, key=key)
    }


def all_rows() -> list[tuple[object, ...]]:
    return sorted(
        DailyStat.objects.values_list(
            "day", "dimension", "key", "opened", "resolved", "resolution_seconds", "responded",
            "first_response_seconds", "csat_count", "csat_sum",
        )
    )  # fmt: skip


@pytest.fixture
def two_episodes(tenant_a: Company, alice: Persona, bob: Persona, clock: Clock) -> Thread:
    """Day 1: asked, answered by bob after 10 min, resolved after 2 h. Day 2: asked again,
    a greeting (no agent) and a failed send, bob answers after 30 min; still open."""
    with clock(T0 - timedelta(hours=1)):
        thread = ThreadFactory()
        thread_assign(thread=thread, assignee=fresh(bob))
    inbound(clock, thread, T0)
    inbound(clock, thread, T0 + timedelta(minutes=5))
    outbound(clock, thread, T0 + timedelta(minutes=10), bob.user)
    outbound(clock, thread, T0 + timedelta(minutes=20), alice.user)
    resolve(clock, thread, T0 + timedelta(hours=2))
    day2 = T0 + timedelta(days=1)
    inbound(clock, thread, day2)
    outbound(clock, thread, day2 + timedelta(minutes=1), None)
    outbound(clock, thread, day2 + timedelta(minutes=2), bob.user, status=Message.Status.FAILED)
    outbound(clock, thread, day2 + timedelta(minutes=30), bob.user)
    return thread


def test_episodes_run_from_the_opening_inbound_to_the_resolve(two_episodes: Thread, bob: Persona) -> None:
    # when
    reports_rollup(now=T0 + timedelta(days=2))
    # then
    episodes = list(Episode.objects.filter(thread_id=two_episodes.pk).order_by("opened_at"))
    assert [(e.opened_at, e.first_response_at, e.resolved_at) for e in episodes] == [
        (T0, T0 + timedelta(minutes=10), T0 + timedelta(hours=2)),
        (T0 + timedelta(days=1), T0 + timedelta(days=1, minutes=30), None),
    ]
    assert [(e.responder_id, e.agent_id) for e in episodes] == [(bob.user.pk, bob.user.pk)] * 2


def test_daily_numbers_count_each_fact_on_its_day(two_episodes: Thread, bob: Persona) -> None:
    # when
    reports_rollup(now=T0 + timedelta(days=2))
    # then
    expected = {DAY1: (1, 1, 7200.0, 1, 600.0, 0, 0), DAY2: (1, 0, 0.0, 1, 1800.0, 0, 0)}
    assert numbers() == expected
    assert numbers(DailyStat.Dimension.AGENT, bob.user.pk) == expected


def test_a_resolve_and_reopen_between_runs_is_not_lost(tenant_a: Company, clock: Clock) -> None:
    # given: resolved, then the customer writes again (which clears Thread.resolved_at)
    with clock(T0):
        thread = ThreadFactory()
    inbound(clock, thread, T0)
    resolve(clock, thread, T0 + timedelta(hours=1))
    inbound(clock, thread, T0 + timedelta(hours=3))
    thread.refresh_from_db()
    assert thread.resolved_at is None
    # when
    reports_rollup(now=T0 + timedelta(hours=4))
    # then
    assert numbers()[DAY1][:3] == (2, 1, 3600.0)


def test_the_trigger_logs_status_changes_with_the_resolve_time(tenant_a: Company, clock: Clock) -> None:
    # given
    with clock(T0):
        thread = ThreadFactory()
    inbound(clock, thread, T0)
    # when
    resolve(clock, thread, T0 + timedelta(minutes=7))
    inbound(clock, thread, T0 + timedelta(minutes=9))
    # then
    events = list(ThreadStatusEvent.objects.filter(thread_id=thread.pk).order_by("at").values_list("status", "at"))
    assert events == [("resolved", T0 + timedelta(minutes=7)), ("open", T0 + timedelta(minutes=9))]


def test_a_response_after_the_resolve_belongs_to_no_conversation(tenant_a: Company, bob: Persona, clock: Clock) -> None:
    # given: resolved without an answer, then bob writes (no new inbound)
    with clock(T0):
        thread = ThreadFactory()
    inbound(clock, thread, T0)
    resolve(clock, thread, T0 + timedelta(minutes=5))
    outbound(clock, thread, T0 + timedelta(minutes=6), bob.user)
    # when
    reports_rollup(now=T0 + timedelta(hours=1))
    # then
    assert numbers()[DAY1] == (1, 1, 300.0, 0, 0.0, 0, 0)


def test_incremental_run_moves_the_numbers_and_a_repeat_changes_nothing(
    two_episodes: Thread, bob: Persona, clock: Clock
) -> None:
    # given
    reports_rollup(now=T0 + timedelta(days=2))
    # when: day 2's conversation is resolved later
    resolve(clock, two_episodes, T0 + timedelta(days=2, hours=1))
    result = reports_rollup(now=T0 + timedelta(days=2, hours=1, minutes=5))
    after = all_rows()
    again = reports_rollup(now=T0 + timedelta(days=2, hours=1, minutes=5))
    # then
    assert result.threads == 1
    assert not result.full
    assert numbers()[date(2026, 3, 4)][:3] == (0, 1, 90000.0)
    assert all_rows() == after
    assert again.threads == 1  # the overlap looks back: the same thread, recomputed to the same rows


def test_nothing_new_touches_no_thread(two_episodes: Thread) -> None:
    # given
    reports_rollup(now=T0 + timedelta(days=2))
    # when
    result = reports_rollup(now=T0 + timedelta(days=3))
    # then
    assert result.threads == 0


def test_relabelling_moves_old_days_between_labels(two_episodes: Thread, clock: Clock) -> None:
    # given
    with clock(T0):
        refund, pizza = LabelFactory(name="refund"), LabelFactory(name="pizza")
        thread_labels_set(thread=two_episodes, labels=["refund"])
    reports_rollup(now=T0 + timedelta(days=2))
    assert numbers(DailyStat.Dimension.LABEL, refund.pk)[DAY1][0] == 1
    # when
    with clock(T0 + timedelta(days=3)):
        thread_labels_set(thread=two_episodes, labels=["pizza"])
    reports_rollup(now=T0 + timedelta(days=3, minutes=5))
    # then
    assert numbers(DailyStat.Dimension.LABEL, refund.pk) == {}
    assert numbers(DailyStat.Dimension.LABEL, pizza.pk)[DAY1][0] == 1
    assert numbers(DailyStat.Dimension.ALL)[DAY1][0] == 1


def test_reassigning_moves_an_open_conversation_to_the_new_agent(
    two_episodes: Thread, alice: Persona, bob: Persona, clock: Clock
) -> None:
    # given
    reports_rollup(now=T0 + timedelta(days=2))
    # when
    with clock(T0 + timedelta(days=2, minutes=1)):
        thread_assign(thread=two_episodes, assignee=fresh(alice))
    reports_rollup(now=T0 + timedelta(days=2, minutes=30))
    # then: the resolved one stays bob's (assignee at resolve), the open one is alice's
    assert numbers(DailyStat.Dimension.AGENT, bob.user.pk)[DAY1][:2] == (1, 1)
    assert DAY2 not in numbers(DailyStat.Dimension.AGENT, bob.user.pk)
    assert numbers(DailyStat.Dimension.AGENT, alice.user.pk)[DAY2][0] == 1


def test_deleted_thread_leaves_the_days(two_episodes: Thread) -> None:
    # given
    reports_rollup(now=T0 + timedelta(days=2))
    # when
    two_episodes.delete()
    reports_rollup(now=T0 + timedelta(days=2, minutes=5))
    # then
    assert numbers() == {}
    assert not Episode.objects.exists()


def test_ratings_count_by_agent_and_their_labels(two_episodes: Thread, bob: Persona, clock: Clock) -> None:
    # given
    with clock(T0 + timedelta(hours=3)):
        vip = LabelFactory(name="vip")
        CsatResponseFactory(
            thread=two_episodes, agent=bob.user, rating=4, labels=[vip], created_at=T0 + timedelta(hours=3)
        )
    with clock(T0 + timedelta(hours=4)):
        CsatResponseFactory(
            thread=two_episodes,
            agent=bob.user,
            rating=2,
            survey__resolved_at=T0 + timedelta(hours=1),
            created_at=T0 + timedelta(hours=4),
        )
    # when
    reports_rollup(now=T0 + timedelta(days=2))
    # then
    assert numbers()[DAY1][5:] == (2, 6)
    assert numbers(DailyStat.Dimension.AGENT, bob.user.pk)[DAY1][5:] == (2, 6)
    assert numbers(DailyStat.Dimension.LABEL, vip.pk)[DAY1][5:] == (1, 4)
    assert numbers(DailyStat.Dimension.LABEL, 0)[DAY1][5:] == (1, 2)


def test_days_are_the_business_hours_zone_days(tenant_a: Company, clock: Clock) -> None:
    # given: 23:30 UTC is 00:30 the next day in Berlin (winter)
    from automation.selectors import automation_settings_get

    settings_row = automation_settings_get()
    settings_row.time_zone = "Europe/Berlin"
    settings_row.save(update_fields=["time_zone"])
    with clock(T0):
        thread = ThreadFactory()
    inbound(clock, thread, datetime(2026, 3, 2, 23, 30, tzinfo=UTC))
    # when
    reports_rollup(now=T0 + timedelta(days=1))
    # then
    assert list(numbers()) == [DAY2]


def test_a_changed_zone_rebuilds_every_day(tenant_a: Company, clock: Clock) -> None:
    # given
    from automation.selectors import automation_settings_get

    with clock(T0):
        thread = ThreadFactory()
    inbound(clock, thread, datetime(2026, 3, 2, 23, 30, tzinfo=UTC))
    reports_rollup(now=T0 + timedelta(days=1))
    assert list(numbers()) == [DAY1]
    # when
    settings_row = automation_settings_get()
    settings_row.time_zone = "Europe/Berlin"
    settings_row.save(update_fields=["time_zone"])
    result = reports_rollup(now=T0 + timedelta(days=1, minutes=5))
    # then
    assert result.full
    assert list(numbers()) == [DAY2]


def test_companies_are_isolated(two_episodes: Thread, company_b: Company) -> None:
    # given
    reports_rollup(now=T0 + timedelta(days=2))
    # when
    with schema_context(company_b.schema_name):
        reports_rollup(now=T0 + timedelta(days=2))
        rows_b = DailyStat.objects.count()
    # then
    assert rows_b == 0
    assert numbers()[DAY1][0] == 1


def test_rebuild_command_recomputes_from_scratch(two_episodes: Thread, company_a: Company, capsys: object) -> None:
    # given
    reports_rollup(now=T0 + timedelta(days=2))
    expected = all_rows()
    DailyStat.objects.update(opened=99)
    # when
    call_command("reports_rebuild", company_a.slug)
    # then
    assert all_rows() == expected


def test_rebuild_command_since_a_day_keeps_earlier_days(two_episodes: Thread, company_a: Company, clock: Clock) -> None:
    # given: another thread, all of it on March 1st
    day0 = T0 - timedelta(days=1)
    with clock(day0):
        earlier = ThreadFactory()
    inbound(clock, earlier, day0)
    resolve(clock, earlier, day0 + timedelta(minutes=3))
    reports_rollup(now=T0 + timedelta(days=2))
    DailyStat.objects.filter(dimension=0).update(opened=99)
    # when
    call_command("reports_rebuild", company_a.slug, "--since", "2026-03-03")
    # then: threads active from March 3rd are recomputed, with every day they count on
    assert numbers()[day0.date()][0] == 99
    assert numbers()[DAY1][0] == 1
    assert numbers()[DAY2] == (1, 0, 0.0, 1, 1800.0, 0, 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [(["nosuchco"], "No company with slug"), (["acme", "--since", "March"], "--since must be a date")],
)
def test_rebuild_command_refuses_bad_input(company_a: Company, args: list[str], message: str) -> None:
    # when / then
    with pytest.raises(CommandError, match=message):
        call_command("reports_rebuild", *args)
