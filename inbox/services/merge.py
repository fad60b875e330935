"""Merging two contacts (the same person with two numbers, or a duplicate import) or two
threads. Owners and admins only.

Nothing is lost: messages, notes, satisfaction surveys and ratings, labels and consent events
move to the surviving side; the merged-away side is deleted only once it is empty. A
contact has one thread per business number (a unique constraint), so when both contacts
have a thread on the same number, those two threads are merged as well. Every merge writes
a PrivacyLog row, which the surviving thread's timeline shows as "Merged from …".
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inbox.models import (
    AudienceUploadRow,
    ConsentEvent,
    Contact,
    CsatResponse,
    CsatSurvey,
    Delivery,
    Message,
    Note,
    PrivacyLog,
    Thread,
)
from inbox.services.privacy import _actor_user, actor_label, require_manager

MERGE_NOT_ALLOWED = gettext_lazy("Only owners and admins can merge contacts and threads.")
STATUS_ORDER = [Thread.Status.OPEN, Thread.Status.PENDING, Thread.Status.SNOOZED, Thread.Status.RESOLVED]


def _thread_label(thread: Thread) -> str:
    contact = thread.contact
    return f"{contact.display_name} via {thread.phone_number.display_number}"[:200]


def _move_thread_content(*, into: Thread, source: Thread) -> dict[str, int]:
    """Moves everything of `source` into `into` and deletes `source`; the survivor's
    summary fields (times, unread, preview, status) are recomputed from both."""
    counts = {
        "messages": Message.objects.filter(thread=source).update(thread=into),
        "notes": Note.objects.filter(thread=source).update(thread=into),
    }
    CsatSurvey.objects.filter(thread=source).update(thread=into)
    CsatResponse.objects.filter(thread=source).update(thread=into)
    PrivacyLog.objects.filter(thread=source).update(thread=into)
    into.labels.add(*source.labels.all())
    # The earlier of two open-ish statuses wins: a merge never closes a conversation someone works on.
    status = min(into.status, source.status, key=STATUS_ORDER.index)
    latest = Message.objects.filter(thread=into).order_by("-created_at", "-id").first()
    Thread.objects.filter(pk=into.pk).update(
        last_message_at=max(filter(None, [into.last_message_at, source.last_message_at]), default=None),
        last_inbound_at=max(filter(None, [into.last_inbound_at, source.last_inbound_at]), default=None),
        unread_count=into.unread_count + source.unread_count,
        last_message_preview=(latest.text or f"[{latest.get_type_display()}]").replace("\n", " ")[:200]
        if latest
        else into.last_message_preview,
        status=status,
        snoozed_until=into.snoozed_until if status == Thread.Status.SNOOZED else None,
        resolved_at=into.resolved_at if status == Thread.Status.RESOLVED else None,
        assignee=into.assignee or source.assignee,
        updated_at=timezone.now(),
    )
    source.delete()
    into.refresh_from_db()
    return counts


M = TypeVar("M", Contact, Thread)


def _pair_locked(into: M, source: M, *, itself: Any, gone: Any) -> tuple[M, M]:
    """Both rows (threads or contacts), locked in pk order so two merges of the same pair
    cannot deadlock, as they are now. ValidationError for a row with itself or one gone."""
    if into.pk == source.pk:
        raise ValidationError({"from": [itself]})
    rows = type(into).objects.select_for_update().filter(pk__in=[into.pk, source.pk]).order_by("pk")
    locked = {row.pk: row for row in rows}
    if len(locked) != 2:
        raise ValidationError({"from": [gone]})
    return locked[into.pk], locked[source.pk]


@transaction.atomic
def thread_merge(*, into: Thread, source: Thread, actor: Any) -> PrivacyLog:
    """Merges `source` into `into` (both of this company); `source` is deleted."""
    require_manager(actor, message=str(MERGE_NOT_ALLOWED))
    into, source = _pair_locked(into, source, itself=_("A thread cannot be merged with itself."),
                                gone=_("That thread no longer exists."))  # fmt: skip
    label = _thread_label(source)
    source_public_id = source.public_id
    counts = _move_thread_content(into=into, source=source)
    return PrivacyLog.objects.create(
        action=PrivacyLog.Action.MERGE_THREADS,
        actor=_actor_user(actor),
        actor_label=actor_label(actor),
        contact_public_id=into.contact.public_id,
        from_public_id=source_public_id,
        thread=into,
        from_label=label,
        counts=counts,
    )


def thread_merge_preview(*, into: Thread, source: Thread) -> dict[str, Any]:
    """What `thread_merge(into=into, source=source)` would move and the status the kept
    thread would end with, for the browser's confirmation page (nothing is changed)."""
    return {
        "messages": Message.objects.filter(thread=source).count(),
        "notes": Note.objects.filter(thread=source).count(),
        "ratings": CsatResponse.objects.filter(thread=source).count(),
        "labels": sorted(label.name for label in source.labels.all()),
        "status": Thread.Status(min(into.status, source.status, key=STATUS_ORDER.index)),
    }


def thread_merged_into(*, public_id: Any) -> Thread | None:
    """The thread a merged-away thread's content went to (None if it was never merged);
    the log row follows its thread through later merges (_move_thread_content)."""
    log = (
        PrivacyLog.objects.filter(
            from_public_id=public_id,
            thread__isnull=False,
            action__in=[PrivacyLog.Action.MERGE_CONTACTS, PrivacyLog.Action.MERGE_THREADS],
        )
        .select_related("thread")
        .order_by("-created_at", "-id")
        .first()
    )
    return log.thread if log is not None else None


def thread_ids_gone(*, since: Any) -> list[Any]:
    """Public ids of the threads merged away or deleted with their contact after `since`, for
    the thread list's live update to take their rows out. One query on the log's
    `created_at` index.

    A log row names a merged-away thread when it counts what moved between threads: every
    thread merge, and a contact merge's per-thread row for two threads on the same number; a
    thread that a contact merge moved whole keeps its id (`from_public_id` is its own), and
    its row counts nothing. contacts.contact_delete writes one row per deleted thread.
    """
    return list(
        PrivacyLog.objects.filter(
            Q(action=PrivacyLog.Action.MERGE_THREADS, thread__isnull=False)
            | Q(action=PrivacyLog.Action.MERGE_CONTACTS, counts__has_key="messages", thread__isnull=False)
            | Q(action=PrivacyLog.Action.DELETE_CONTACT, from_public_id__isnull=False),
            created_at__gt=since,
        )
        .order_by()
        .values_list("from_public_id", flat=True)
    )


def thread_was_deleted(*, public_id: Any) -> bool:
    """Whether the thread was deleted with its contact (contacts.contact_delete logs it)."""
    return PrivacyLog.objects.filter(from_public_id=public_id, action=PrivacyLog.Action.DELETE_CONTACT).exists()


def _consent_flags_refresh(contact: Contact) -> None:
    """The cached flags recomputed from the merged ledger (the same rule as consent_record)."""
    latest_all = contact.consent_events.filter(purpose=ConsentEvent.Purpose.ALL).order_by("-created_at", "-id").first()
    latest_marketing = (
        contact.consent_events.filter(purpose=ConsentEvent.Purpose.MARKETING).order_by("-created_at", "-id").first()
    )
    opted_in = bool(latest_all and latest_all.action == ConsentEvent.Action.OPT_IN)
    opted_out = bool(latest_all and latest_all.action == ConsentEvent.Action.OPT_OUT)
    marketing_out = bool(latest_marketing and latest_marketing.action == ConsentEvent.Action.OPT_OUT)
    if opted_in and latest_marketing and latest_all.created_at > latest_marketing.created_at:  # type: ignore[union-attr]
        marketing_out = False
    Contact.objects.filter(pk=contact.pk).update(
        opted_in=opted_in, opted_out=opted_out, marketing_opted_out=marketing_out
    )


def _free_attribute(attributes: dict[str, Any], key: str) -> str:
    if key not in attributes:
        return key
    n = 2
    while f"{key}_{n}" in attributes:
        n += 1
    return f"{key}_{n}"


@transaction.atomic
def contact_merge(*, into: Contact, source: Contact, actor: Any) -> PrivacyLog:
    """Merges `source` into `into`; `source` is deleted once everything moved.

    Threads move to the survivor; two threads on the same business number are merged (the
    one-thread-per-contact-and-number rule). Consent events move and the flags are
    recomputed from the merged ledger. Labels are united; attributes the survivor lacks
    are copied; its name, WhatsApp name and wa_id are filled from the merged contact when
    empty. The merged contact's phone is kept as the attribute `merged_phone` (`_2`, …).
    """
    require_manager(actor, message=str(MERGE_NOT_ALLOWED))
    into, source = _pair_locked(into, source, itself=_("A contact cannot be merged with itself."),
                                gone=_("That contact no longer exists."))  # fmt: skip
    if into.erased_at or source.erased_at:
        raise ValidationError({"from": [_("An erased contact cannot be merged.")]})
    label = source.display_name[:200]
    counts = {"threads_moved": 0, "threads_merged": 0, "messages": 0, "notes": 0}
    logs: list[PrivacyLog] = []
    survivors = {t.phone_number_id: t for t in Thread.objects.select_for_update().filter(contact=into)}
    for thread in Thread.objects.select_for_update().filter(contact=source).select_related("phone_number"):
        target = survivors.get(thread.phone_number_id)
        source_thread_id = thread.public_id
        moved: dict[str, int] = {}  # what moved from one thread into another; empty when the thread moved whole
        if target is None:
            counts["threads_moved"] += 1
            counts["messages"] += Message.objects.filter(thread=thread).count()
            counts["notes"] += Note.objects.filter(thread=thread).count()
            Thread.objects.filter(pk=thread.pk).update(contact=into, updated_at=timezone.now())
            thread.contact = into
            survivors[thread.phone_number_id] = thread
            target = thread
        else:
            moved = _move_thread_content(into=target, source=thread)
            counts["threads_merged"] += 1
            counts["messages"] += moved["messages"]
            counts["notes"] += moved["notes"]
        logs.append(
            PrivacyLog(
                action=PrivacyLog.Action.MERGE_CONTACTS,
                actor=_actor_user(actor),
                actor_label=actor_label(actor),
                contact_public_id=into.public_id,
                from_public_id=source_thread_id,
                thread=target,
                from_label=label,
                counts=moved,
            )
        )
    counts["consent_events"] = ConsentEvent.objects.filter(contact=source).update(contact=into)
    into.labels.add(*source.labels.all())
    # A recipient of one broadcast once only: rows that would collide stay with the old id
    # (the delivery ledger outlives deleted contacts and holds no personal data).
    taken = Delivery.objects.filter(contact_id=into.pk).values("broadcast_id")
    Delivery.objects.filter(contact_id=source.pk).exclude(broadcast_id__in=taken).update(contact_id=into.pk)
    AudienceUploadRow.objects.filter(contact_id=source.pk).update(contact_id=into.pk)
    attributes = dict(into.attributes)
    for key, value in source.attributes.items():
        attributes.setdefault(key, value)
    attributes[_free_attribute(attributes, "merged_phone")] = source.phone
    into.attributes = attributes
    into.name = into.name or source.name
    into.profile_name = into.profile_name or source.profile_name
    into.wa_id = into.wa_id or source.wa_id
    source_public_id = source.public_id
    source.delete()
    into.save(update_fields=["attributes", "name", "profile_name", "wa_id", "updated_at"])
    _consent_flags_refresh(into)
    summary = PrivacyLog.objects.create(
        action=PrivacyLog.Action.MERGE_CONTACTS,
        actor=_actor_user(actor),
        actor_label=actor_label(actor),
        contact_public_id=into.public_id,
        from_public_id=source_public_id,
        from_label=label,
        counts=counts,
    )
    PrivacyLog.objects.bulk_create(logs)
    into.refresh_from_db()
    return summary


def merge_events_for_thread(*, thread: Thread, start: Any = None, end: Any = None) -> list[PrivacyLog]:
    """The thread's merge events with start <= created_at < end, oldest first."""
    events = PrivacyLog.objects.filter(
        thread=thread, action__in=[PrivacyLog.Action.MERGE_CONTACTS, PrivacyLog.Action.MERGE_THREADS]
    )
    if start is not None:
        events = events.filter(created_at__gte=start)
    if end is not None:
        events = events.filter(created_at__lt=end)
    return list(events.order_by("created_at", "id"))


def merge_timeline_items(*, thread: Thread, start: Any = None, end: Any = None) -> list[dict[str, Any]]:
    """The thread's merge events as timeline items (kind "system"), for inbox.display's list."""
    from inbox.display import sort_time, time_iso, time_short  # display imports the models only

    items = []
    for event in merge_events_for_thread(thread=thread, start=start, end=end):
        if event.action == PrivacyLog.Action.MERGE_THREADS:
            text = _("Merged from the thread with %(label)s") % {"label": event.from_label or _("an erased contact")}
        else:
            text = _("Merged from the contact %(label)s") % {"label": event.from_label or _("an erased contact")}
        items.append(
            {
                "kind": "system",
                "id": str(event.public_id),
                "sort": f"{sort_time(event.created_at)}-s{event.pk:012d}",
                "text": text,
                "by": event.actor_label,
                "at_iso": time_iso(event.created_at),
                "at_text": time_short(event.created_at),
            }
        )
    return items
