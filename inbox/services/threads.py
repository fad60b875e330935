"""Threads: the customer-service window, assignment, status, labels, notes, read state."""

from __future__ import annotations

import re
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts.models import User
from inbox import representations
from inbox.models import Contact, Label, Message, Note, PhoneNumber, Thread
from inbox.services import events
from inbox.window import WINDOW, WINDOW_SAFETY_MARGIN, window_expires_at, window_is_open

PREVIEW_LENGTH = 200
SNOOZE_IN_PAST = gettext_lazy("Choose a time in the future.")
SNOOZE_REQUIRED = gettext_lazy("A snoozed thread needs `snoozed_until`.")
ASSIGNEE_INACTIVE = gettext_lazy("This agent is deactivated.")
__all__ = [
    "WINDOW",
    "WINDOW_SAFETY_MARGIN",
    "window_expires_at",
    "window_is_open",
]

MENTION_RE = re.compile(r"(?<![\w.])@([\w.+-]+@[\w-]+(?:\.[\w-]+)+|[\w.-]+)")


def thread_get_or_create(*, contact: Contact, phone_number: PhoneNumber) -> Thread:
    """The contact's thread on this number, made (open) if there is none yet."""
    # last_message_at starts at creation: the inbox's keyset pages sort by it and need a value.
    thread, _ = Thread.objects.get_or_create(
        contact=contact, phone_number=phone_number, defaults={"last_message_at": timezone.now()}
    )
    return thread


def _preview(message: Message) -> str:
    text = message.text or f"[{message.get_type_display()}]"
    return text.replace("\n", " ")[:PREVIEW_LENGTH]


def _publish_thread(thread: Thread) -> None:
    events.event_publish(event_type="thread.updated", data=representations.thread_data(thread))


@transaction.atomic
def thread_record_inbound(*, thread: Thread, message: Message, opens_window: bool = True) -> Thread:
    """Books an inbound message on its thread: window, preview, unread; reopens the thread.

    `opens_window` False (an unsupported item, a removed reaction) leaves the window alone.

    Uses the provider's timestamp for the window (checked at send time against now).
    Counters move with F() so concurrent messages are all counted.
    """
    at = message.provider_timestamp or message.created_at or timezone.now()
    reopen = thread.status != Thread.Status.OPEN
    # One UPDATE; clocks only move forward (batches arrive out of order, and PostgreSQL's
    # GREATEST ignores NULL); unread moves with F() so concurrent messages all count.
    Thread.objects.filter(pk=thread.pk).update(
        unread_count=F("unread_count") + 1,
        # A message older than the newest one keeps the newer preview; a thread's first
        # message always sets it (the thread was stamped when it was made, just after).
        last_message_preview=Case(
            When(Q(last_message_at__gt=at) & ~Q(last_message_preview=""), then=F("last_message_preview")),
            default=Value(_preview(message)),
        ),
        last_inbound_at=Greatest(F("last_inbound_at"), Value(at)) if opens_window else F("last_inbound_at"),
        last_message_at=Greatest(F("last_message_at"), Value(at)),
        status=Thread.Status.OPEN,
        snoozed_until=None,
        resolved_at=None,
        updated_at=timezone.now(),
    )
    thread.refresh_from_db()
    if reopen or thread.unread_count == 1:
        _publish_thread(thread)
    return thread


@transaction.atomic
def thread_record_outbound(*, thread: Thread, message: Message) -> Thread:
    """Books an outbound message on its thread (preview and time; the window is unchanged)."""
    at = message.created_at or timezone.now()
    Thread.objects.filter(pk=thread.pk).update(
        # A message older than the newest one keeps the newer preview; a thread's first
        # message always sets it (the thread was stamped when it was made, just after).
        last_message_preview=Case(
            When(Q(last_message_at__gt=at) & ~Q(last_message_preview=""), then=F("last_message_preview")),
            default=Value(_preview(message)),
        ),
        last_message_at=Greatest(F("last_message_at"), Value(at)),
        updated_at=timezone.now(),
    )
    thread.refresh_from_db()
    return thread


@transaction.atomic
def thread_assign(*, thread: Thread, assignee: User | None) -> Thread:
    """Assigns the thread to an active agent of this company, or unassigns it (None)."""
    if assignee is not None and not assignee.is_active:
        raise ValidationError({"agent": [ASSIGNEE_INACTIVE]})
    if thread.assignee_id == (assignee.pk if assignee else None):
        return thread
    thread.assignee = assignee
    thread.save(update_fields=["assignee", "updated_at"])
    _publish_thread(thread)
    return thread


@transaction.atomic
def thread_status_set(
    *, thread: Thread, status: str, snoozed_until: datetime | None = None, by: User | None = None
) -> Thread:
    """Moves the thread to open/pending/snoozed/resolved; snoozing needs a future time.

    Resolving an unresolved thread may ask the customer for a rating (inbox/services/csat.py);
    `by` is the agent who resolved it.
    """
    if status not in Thread.Status.values:
        raise ValidationError({"status": [f"Choose one of: {', '.join(Thread.Status.values)}."]})
    if status == Thread.Status.SNOOZED:
        if snoozed_until is None:
            raise ValidationError({"snoozed_until": [SNOOZE_REQUIRED]})
        if snoozed_until <= timezone.now():
            raise ValidationError({"snoozed_until": [SNOOZE_IN_PAST]})
    was_resolved = thread.status == Thread.Status.RESOLVED
    thread.status = status
    thread.snoozed_until = snoozed_until if status == Thread.Status.SNOOZED else None
    thread.resolved_at = timezone.now() if status == Thread.Status.RESOLVED else None
    thread.save(update_fields=["status", "snoozed_until", "resolved_at", "updated_at"])
    _publish_thread(thread)
    if status == Thread.Status.RESOLVED and not was_resolved:
        from inbox.services import csat  # here: csat imports tasks, which imports this module

        csat.csat_on_resolve(thread=thread, agent=by)
    return thread


def thread_wake_snoozed(*, now: datetime | None = None) -> int:
    """Reopens snoozed threads whose time has come; returns how many (for beat, per schema)."""
    now = now or timezone.now()
    woken = 0
    for thread in Thread.objects.filter(status=Thread.Status.SNOOZED, snoozed_until__lte=now):
        with transaction.atomic():
            updated = Thread.objects.filter(pk=thread.pk, status=Thread.Status.SNOOZED).update(
                status=Thread.Status.OPEN, snoozed_until=None, updated_at=now
            )
            if updated:
                thread.refresh_from_db()
                _publish_thread(thread)
                woken += 1
    return woken


@transaction.atomic
def thread_labels_set(*, thread: Thread, labels: list[str]) -> Thread:
    """Replaces the thread's labels by name, making labels that do not exist yet."""
    cleaned = sorted({name.strip()[:50] for name in labels if name and name.strip()})
    found = {label.name: label for label in Label.objects.filter(name__in=cleaned)}
    for name in cleaned:
        if name not in found:
            found[name], _ = Label.objects.get_or_create(name=name)
    thread.labels.set([found[name] for name in cleaned])
    Thread.objects.filter(pk=thread.pk).update(updated_at=timezone.now())
    _publish_thread(thread)
    return thread


def thread_mark_read(*, thread: Thread) -> Thread:
    """Clears the unread badge (an agent opened the thread); other agents' lists see it live."""
    if thread.unread_count:
        now = timezone.now()
        Thread.objects.filter(pk=thread.pk).update(unread_count=0, updated_at=now)
        thread.unread_count = 0
        thread.updated_at = now
    return thread


def _mentioned_agents(body: str) -> list[User]:
    handles = {m.group(1).lower() for m in MENTION_RE.finditer(body)}
    if not handles:
        return []
    agents = User.objects.filter(is_active=True)
    found = []
    for agent in agents:
        local_part = agent.email.split("@", 1)[0].lower()
        first_name = (agent.name.split() or [""])[0].lower()
        if agent.email.lower() in handles or local_part in handles or (first_name and first_name in handles):
            found.append(agent)
    return found


@transaction.atomic
def note_create(*, thread: Thread, author: User | None, body: str) -> Note:
    """Adds an internal note; `@name`, `@local-part` or `@e-mail` mentions active agents.

    `author` is None for notes written through the API (a key has no agent behind it).
    """
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": ["Write something."]})
    note = Note.objects.create(thread=thread, author=author, body=body[:10000])
    mentioned = _mentioned_agents(body)
    if mentioned:
        note.mentions.set(mentioned)
    return note


# --- additive helper for the REST API (PATCH /threads/{id}/), added by the API work ----------

SNOOZE_ONLY_WHEN_SNOOZED = gettext_lazy(
    "Only a snoozed thread has `snoozed_until`; send status `snoozed` or leave it out."
)


@transaction.atomic
def thread_update(
    *,
    thread: Thread,
    status: str | None = None,
    labels: list[str] | None = None,
    snoozed_until: datetime | None = None,
) -> Thread:
    """Status, snooze time and labels in one transaction (all or nothing).

    `snoozed_until` without a status snoozes the thread until then; with a status other
    than `snoozed` it must be None.
    """
    if status is None and snoozed_until is not None:
        status = Thread.Status.SNOOZED
    if status is not None and status != Thread.Status.SNOOZED and snoozed_until is not None:
        raise ValidationError({"snoozed_until": [SNOOZE_ONLY_WHEN_SNOOZED]})
    if status is not None:
        thread = thread_status_set(thread=thread, status=status, snoozed_until=snoozed_until)
    if labels is not None:
        thread = thread_labels_set(thread=thread, labels=labels)
    return thread
