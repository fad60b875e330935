"""Automation rules: settings and business hours, greeting/away replies, round-robin
assignment, auto-resolve.

Every rule runs in Celery and is idempotent: an automatic reply is claimed per inbound
message (`AutoReply`, unique) and per contact and period (`ContactAutomation`, a
conditional UPDATE); an assignment takes the settings row's lock (the round-robin pointer)
and the thread's; auto-resolve is one conditional UPDATE. Services take `now=` so tests
control the clock.
"""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from automation import selectors
from automation.models import (
    SETTINGS_PK,
    AgentAutomation,
    AutomationSettings,
    AutoReply,
    ContactAutomation,
    Holiday,
    OpeningInterval,
)
from inbox import representations
from inbox.errors import WindowClosedError
from inbox.models import Message, Thread
from inbox.services import csat, events, messages, threads

logger = logging.getLogger(__name__)

COOLDOWN_MAX_HOURS = 24 * 365
IDLE_MAX_HOURS = 24 * 365
AGENT_CAP_MAX = 1000
AUTO_RESOLVE_BATCH = 500
ASSIGN_WAITING_BATCH = 500
# Messages that are not a customer writing to us trigger no automatic reply.
SILENT_TYPES = frozenset({Message.Type.UNSUPPORTED, Message.Type.REACTION})


# --- settings ----------------------------------------------------------------------------


def _hours_check(errors: dict[str, list[str]], field: str, value: int | None, *, maximum: int) -> None:
    if value is not None and not 1 <= value <= maximum:
        errors.setdefault(field, []).append(_("Choose a whole number of hours from 1 to %(max)d.") % {"max": maximum})


@transaction.atomic
def automation_settings_update(
    *,
    greeting_enabled: bool,
    greeting_text: str,
    greeting_cooldown_hours: int,
    away_enabled: bool,
    away_text: str,
    away_cooldown_hours: int,
    auto_assign_enabled: bool,
    auto_resolve_idle_hours: int | None,
) -> AutomationSettings:
    """Replaces the company's automation switches; ValidationError (by field) on bad values.

    An enabled reply needs its text (an empty automatic message cannot be sent), and the
    periods are at least an hour, so a burst of messages never gets a burst of replies.
    """
    greeting_text, away_text = (greeting_text or "").strip(), (away_text or "").strip()
    errors: dict[str, list[str]] = {}
    if greeting_enabled and not greeting_text:
        errors["greeting_text"] = [_("Write the greeting, or switch it off.")]
    if away_enabled and not away_text:
        errors["away_text"] = [_("Write the away message, or switch it off.")]
    for field, text in (("greeting_text", greeting_text), ("away_text", away_text)):
        if len(text) > messages.TEXT_MAX:
            errors.setdefault(field, []).append(
                _("A message can hold at most %(max)d characters.") % {"max": messages.TEXT_MAX}
            )
    _hours_check(errors, "greeting_cooldown_hours", greeting_cooldown_hours, maximum=COOLDOWN_MAX_HOURS)
    _hours_check(errors, "away_cooldown_hours", away_cooldown_hours, maximum=COOLDOWN_MAX_HOURS)
    _hours_check(errors, "auto_resolve_idle_hours", auto_resolve_idle_hours, maximum=IDLE_MAX_HOURS)
    if errors:
        raise ValidationError(errors)
    selectors.automation_settings_get()
    found = AutomationSettings.objects.select_for_update().get(pk=SETTINGS_PK)
    found.greeting_enabled, found.greeting_text = greeting_enabled, greeting_text
    found.greeting_cooldown_hours = greeting_cooldown_hours
    found.away_enabled, found.away_text, found.away_cooldown_hours = away_enabled, away_text, away_cooldown_hours
    found.auto_assign_enabled = auto_assign_enabled
    found.auto_resolve_idle_hours = auto_resolve_idle_hours
    found.save()
    return found


def time_zone_validate(name: str) -> str:
    """`name` if it is an IANA zone this system knows (e.g. `Europe/Berlin`), else ValidationError."""
    name = (name or "").strip()
    if name not in zoneinfo.available_timezones():
        raise ValidationError({"time_zone": [_("Choose an IANA time zone, e.g. Europe/Berlin.")]})
    return name


@dataclass(frozen=True)
class IntervalInput:
    weekday: int
    opens: time
    closes: time


@dataclass(frozen=True)
class HolidayInput:
    date: date
    name: str = ""


@transaction.atomic
def business_hours_set(
    *, time_zone: str, intervals: list[IntervalInput], holidays: list[HolidayInput]
) -> selectors.BusinessHours:
    """Replaces the time zone, the weekly hours and the holidays in one transaction.

    Errors name the item (`intervals.2.closes`): two spans of one weekday may not overlap
    (an overnight one runs into the next day and is checked there too), and a date is a
    holiday once.
    """
    errors: dict[str, list[str]] = {}
    try:
        time_zone = time_zone_validate(time_zone)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    minute = 24 * 60
    taken: list[tuple[int, int, int]] = []  # (start, end) in minutes of the week, per index
    for index, interval in enumerate(intervals):
        if not 0 <= interval.weekday <= 6:
            errors[f"intervals.{index}.weekday"] = [_("Choose a weekday.")]
            continue
        if interval.opens.second or interval.closes.second or interval.opens.microsecond:
            errors[f"intervals.{index}.opens"] = [_("Give times in whole minutes.")]
            continue
        start = interval.weekday * minute + interval.opens.hour * 60 + interval.opens.minute
        length = (interval.closes.hour * 60 + interval.closes.minute) - (
            interval.opens.hour * 60 + interval.opens.minute
        )
        length = length if length > 0 else length + minute
        for other, other_start, other_end in taken:
            for shift in (-7 * minute, 0, 7 * minute):  # Sunday night runs into Monday
                if start < other_end + shift and other_start + shift < start + length:
                    errors[f"intervals.{index}.opens"] = [
                        _("This span overlaps span %(other)d; join them into one.") % {"other": other + 1}
                    ]
        taken.append((index, start, start + length))
    seen: set[date] = set()
    for index, holiday in enumerate(holidays):
        if holiday.date in seen:
            errors[f"holidays.{index}.date"] = [_("This date is listed twice.")]
        seen.add(holiday.date)
        if len(holiday.name) > 100:
            errors[f"holidays.{index}.name"] = [_("A name can hold at most 100 characters.")]
    if errors:
        raise ValidationError(errors)
    selectors.automation_settings_get()
    AutomationSettings.objects.filter(pk=SETTINGS_PK).update(time_zone=time_zone, updated_at=timezone.now())
    OpeningInterval.objects.all().delete()
    OpeningInterval.objects.bulk_create(
        OpeningInterval(weekday=i.weekday, opens=i.opens, closes=i.closes) for i in intervals
    )
    Holiday.objects.all().delete()
    Holiday.objects.bulk_create(Holiday(date=h.date, name=h.name.strip()) for h in holidays)
    return selectors.business_hours_get()


@transaction.atomic
def agent_automation_update(
    *, user: User, auto_assign: bool | None = None, available: bool | None = None, max_open_threads: int | None = None
) -> AgentAutomation:
    """Sets an agent's opt-in, availability and cap (None leaves a value as it is)."""
    if max_open_threads is not None and not 1 <= max_open_threads <= AGENT_CAP_MAX:
        raise ValidationError({"max_open_threads": [_("Choose a number from 1 to %(max)d.") % {"max": AGENT_CAP_MAX}]})
    selectors.agent_automation_get(user=user)
    row = AgentAutomation.objects.select_for_update().get(user=user)
    if auto_assign is not None:
        row.auto_assign = auto_assign
    if available is not None:
        row.available = available
    if max_open_threads is not None:
        row.max_open_threads = max_open_threads
    row.save()
    return row


def agent_availability_set(*, user: User, available: bool) -> AgentAutomation:
    """An agent marks themself available or away; coming back picks up waiting threads."""
    row = agent_automation_update(user=user, available=available)
    if available:
        from automation import tasks

        transaction.on_commit(lambda: tasks.automation_assign_waiting_task.delay())
    return row


# --- inbound: greeting, away, assignment --------------------------------------------------


def inbound_automation_wanted() -> bool:
    """Whether any rule acts on inbound messages (so the hook enqueues no idle tasks)."""
    row = AutomationSettings.objects.filter(pk=SETTINGS_PK).first()
    return row is not None and (row.greeting_enabled or row.away_enabled or row.auto_assign_enabled)


def _triggers_reply(message: Message) -> bool:
    if message.type in SILENT_TYPES:
        return False
    if message.type == Message.Type.TEXT:
        word = message.text.strip().upper()
        # STOP/START get their own confirmation (inbox.services.messages).
        if word in messages.STOP_KEYWORDS or word in messages.START_KEYWORDS:
            return False
    return not message.thread.contact.opted_out


def _is_first_contact(message: Message) -> bool:
    """The customer's first inbound message ever (on any of the company's numbers)."""
    return not Message.objects.filter(
        thread__contact_id=message.thread.contact_id, direction=Message.Direction.INBOUND, pk__lt=message.pk
    ).exists()


class _Held(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _auto_reply(*, message: Message, kind: str, text: str, cooldown_hours: int, now: datetime) -> AutoReply | None:
    """Sends one automatic reply to `message` unless this customer got one in the period.

    None when this inbound message was handled before (a repeated task). The claim and the
    send share a savepoint: a send refused (window closed) gives the claim back.
    """
    field = "greeted_at" if kind == AutoReply.Kind.GREETING else "away_sent_at"
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = AutoReply.objects.create(inbound=message, kind=kind)
        except IntegrityError:
            return None
        contact_id = message.thread.contact_id
        ContactAutomation.objects.get_or_create(contact_id=contact_id)
        try:
            with transaction.atomic():
                since = now - timedelta(hours=cooldown_hours)
                claimed = (
                    ContactAutomation.objects.filter(contact_id=contact_id)
                    .filter(Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__lte": since}))
                    .update(**{field: now})
                )
                if not claimed:
                    raise _Held("period")
                sent = messages.message_send(thread=message.thread, sender=None, type=Message.Type.TEXT, text=text)
                sent.payload = {**sent.payload, "auto_reply": kind}
                sent.save(update_fields=["payload"])
        except _Held as held:
            record.skipped_reason = held.reason
        except WindowClosedError:
            record.skipped_reason = "window_closed"
        else:
            record.sent_message = sent
        record.save(update_fields=["sent_message", "skipped_reason"])
    return record


def inbound_automation_run(*, message_id: int, now: datetime | None = None) -> list[AutoReply]:
    """The rules for one inbound message (the task after its transaction committed):
    auto-assignment of its thread, then the greeting and the away message.

    Greeting: the customer's first inbound message ever. Away: the message was written
    outside business hours (its own time, not the task's, so a late task decides the
    same). Both go out inside the customer-service window (the message just opened it).
    """
    now = now or timezone.now()
    message = (
        Message.objects.select_related("thread__contact", "thread__phone_number")
        .filter(pk=message_id, direction=Message.Direction.INBOUND)
        .first()
    )
    if message is None:
        return []
    config = selectors.automation_settings_get()
    if config.auto_assign_enabled:
        thread_auto_assign(thread_id=message.thread_id)
    if not _triggers_reply(message):
        return []
    done = []
    if config.greeting_enabled and config.greeting_text and _is_first_contact(message):
        done.append(
            _auto_reply(
                message=message,
                kind=AutoReply.Kind.GREETING,
                text=config.greeting_text,
                cooldown_hours=config.greeting_cooldown_hours,
                now=now,
            )
        )
    written_at = message.provider_timestamp or message.created_at
    if config.away_enabled and config.away_text and not selectors.is_open(at=written_at):
        done.append(
            _auto_reply(
                message=message,
                kind=AutoReply.Kind.AWAY,
                text=config.away_text,
                cooldown_hours=config.away_cooldown_hours,
                now=now,
            )
        )
    return [record for record in done if record is not None]


# --- auto-assignment ---------------------------------------------------------------------


def _next_agent(config: AutomationSettings) -> User | None:
    """The next agent after the pointer (by id, wrapping) who is opted in, available, active
    and below their cap; None when everyone is at cap or away."""
    candidates = [
        agent
        for agent in selectors.agent_list_with_load().filter(automation__auto_assign=True, automation__available=True)
        if agent.open_threads < agent.automation.max_open_threads
    ]
    if not candidates:
        return None
    pointer = config.last_assigned_user_id or 0
    return next((agent for agent in candidates if agent.pk > pointer), candidates[0])


def thread_auto_assign(*, thread_id: int) -> User | None:
    """Assigns an open, unassigned thread round-robin; None if it stays unassigned
    (rule off, thread taken or not open, or no agent has capacity).

    The settings row's lock makes pointer, load count and assignment one step: two
    threads arriving at once go to two agents, and a cap is never overrun by automation.
    """
    if not Thread.objects.filter(pk=thread_id, status=Thread.Status.OPEN, assignee__isnull=True).exists():
        return None  # the common case (already assigned) takes no lock
    selectors.automation_settings_get()
    with transaction.atomic():
        config = AutomationSettings.objects.select_for_update().get(pk=SETTINGS_PK)
        if not config.auto_assign_enabled:
            return None
        thread = (
            Thread.objects.select_for_update()
            .filter(pk=thread_id, status=Thread.Status.OPEN, assignee__isnull=True)
            .first()
        )
        if thread is None:
            return None
        agent = _next_agent(config)
        if agent is None:
            return None
        threads.thread_assign(thread=thread, assignee=agent)
        AutomationSettings.objects.filter(pk=SETTINGS_PK).update(last_assigned_user=agent)
    return agent


def threads_assign_waiting(*, limit: int = ASSIGN_WAITING_BATCH) -> int:
    """Beat: gives open unassigned threads to agents with capacity, longest waiting first
    (by the customer's last message); stops at the first thread nobody can take."""
    config = selectors.automation_settings_get()
    if not config.auto_assign_enabled:
        return 0
    waiting = (
        Thread.objects.filter(status=Thread.Status.OPEN, assignee__isnull=True)
        .order_by(F("last_inbound_at").asc(nulls_last=True), "id")
        .values_list("pk", flat=True)[:limit]
    )
    assigned = 0
    for thread_id in waiting:
        if thread_auto_assign(thread_id=thread_id) is not None:
            assigned += 1
        elif Thread.objects.filter(pk=thread_id, status=Thread.Status.OPEN, assignee__isnull=True).exists():
            break  # nobody has capacity (or the rule was switched off meanwhile)
    return assigned


# --- auto-resolve --------------------------------------------------------------------------

_RESOLVE_SQL = """
UPDATE {table} SET status = %(resolved)s, resolved_at = %(now)s, updated_at = %(now)s, snoozed_until = NULL
WHERE id IN (
    SELECT id FROM {table}
    WHERE status IN (%(open)s, %(pending)s) AND last_message_at < %(cutoff)s
    ORDER BY last_message_at, id
    LIMIT %(batch)s
    FOR UPDATE SKIP LOCKED
) AND status IN (%(open)s, %(pending)s) AND last_message_at < %(cutoff)s
RETURNING id
"""


def _csat_ask(thread: Thread) -> None:
    """The rating request after an automatic resolve; its own savepoint, so a failure
    leaves the resolve and the rest of the batch in place."""
    try:
        with transaction.atomic():
            csat.csat_on_resolve(thread=thread, agent=None)
    except Exception:
        logger.exception("rating request after auto-resolve of thread %s failed", thread.public_id)


def threads_auto_resolve(*, now: datetime | None = None, batch: int = AUTO_RESOLVE_BATCH) -> int:
    """Beat: resolves open and pending threads with no message either way for the
    configured time (off when unset); returns how many.

    One set-based UPDATE per batch (rows a user is changing right now are skipped and
    looked at next time); each resolved thread publishes `thread.updated` in the same
    transaction, as a resolve by an agent does, and asks for a rating by the same rules
    (`csat.csat_on_resolve`: when the company has it on, inside the window, once per
    resolve, for the assignee). A survey that cannot be asked is logged, never a reason
    to undo the batch (docs/decisions.md §14).
    """
    now = now or timezone.now()
    config = selectors.automation_settings_get()
    if config.auto_resolve_idle_hours is None:
        return 0
    cutoff = now - timedelta(hours=config.auto_resolve_idle_hours)
    sql = _RESOLVE_SQL.format(table=connection.ops.quote_name(Thread._meta.db_table))
    params = {
        "resolved": Thread.Status.RESOLVED,
        "open": Thread.Status.OPEN,
        "pending": Thread.Status.PENDING,
        "now": now,
        "cutoff": cutoff,
        "batch": batch,
    }
    total = 0
    while True:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                ids = [row[0] for row in cursor.fetchall()]
            resolved = Thread.objects.filter(pk__in=ids).select_related("contact", "phone_number", "assignee")
            for thread in resolved:
                events.event_publish(event_type="thread.updated", data=representations.thread_data(thread))
                _csat_ask(thread)
        total += len(ids)
        if len(ids) < batch:
            return total
