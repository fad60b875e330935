"""Every read of inbox data used by views, the API and tasks.

The only way a view obtains a Thread, Contact or Message is through a `*_get` here, which
answers Http404 for anything the caller may not see (another company's object does not
exist in this schema, so it looks exactly like a missing one).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import BooleanField, CharField, Count, F, OuterRef, Prefetch, Q, QuerySet
from django.db.models.expressions import RawSQL, Value
from django.db.models.functions import Coalesce, NullIf
from django.http import Http404

from accounts.models import User
from inbox import representations
from inbox.models import CannedReply, ConsentEvent, Contact, Label, Message, Note, PhoneNumber, Template, Thread
from tenants.models import Company, PhoneNumberRoute


def _uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError) as exc:
        raise Http404("Not found.") from exc


def thread_queryset() -> QuerySet[Thread]:
    """Threads with what their list rows and API objects show, in a fixed number of queries."""
    return Thread.objects.select_related("contact", "phone_number", "assignee").prefetch_related(
        Prefetch("labels", queryset=Label.objects.order_by("name"))
    )


def thread_get(*, public_id: Any) -> Thread:
    """The thread with this id in the current company, or Http404."""
    thread = thread_queryset().filter(public_id=_uuid(public_id)).first()
    if thread is None:
        raise Http404("Not found.")
    return thread


def thread_get_for_agent(*, agent: User, public_id: Any) -> Thread:
    """The thread as an agent may see it (every agent of a company sees all its threads)."""
    if not agent.is_active:
        raise Http404("Not found.")
    return thread_get(public_id=public_id)


def thread_list(
    *,
    status: str | None = None,
    assignee: User | None = None,
    unassigned: bool = False,
    label: str | None = None,
    search: str | None = None,
) -> QuerySet[Thread]:
    """Threads newest activity first, filtered; the caller pages by keyset."""
    qs = thread_queryset()
    if status:
        qs = qs.filter(status=status)
    if unassigned:
        qs = qs.filter(assignee__isnull=True)
    elif assignee is not None:
        qs = qs.filter(assignee=assignee)
    if label:
        qs = qs.filter(labels__name=label)
    if search and search.strip():
        term = search.strip()
        if _search_term_is_common(term):
            qs = qs.filter(_thread_matches(term))
        else:
            qs = qs.filter(pk__in=_thread_ids_matching(term))
    return qs.order_by("-last_message_at", "-id")


# One UNION the planner can semi-join, each side served by a trigram index on exactly these
# UPPER(...) expressions (migration `search_indexes`): an OR of EXISTS and joins instead
# makes PostgreSQL walk every thread (2.5 s at 100k threads / 5M messages, bench/inbox.py).
CONTACT_SEARCH_EXPR = "UPPER(c.name || ' ' || c.profile_name || ' ' || c.phone)"
_THREAD_SEARCH_SQL = (  # constants only; the search term is always a parameter
    "SELECT m.thread_id FROM inbox_message m WHERE UPPER(m.text) LIKE UPPER(%s) "  # noqa: S608
    "UNION SELECT t.id FROM inbox_thread t JOIN inbox_contact c ON c.id = t.contact_id "
    f"WHERE {CONTACT_SEARCH_EXPR} LIKE UPPER(%s)"
)


# Two plans, because no single one is fast for both kinds of term (bench/inbox.py, 100k
# threads / 5M messages):
# - a rare term (a name, a booking reference): collect the matching threads through the
#   trigram indexes, then sort that small set — milliseconds; walking the threads instead
#   would read every message of every thread (seconds).
# - a common term ("delay", a word in most messages): the trigram indexes hand back
#   hundreds of thousands of rows to collect and sort (3.8 s for a word in all 5M), while
#   walking the threads newest first and testing each one's messages fills a page after a
#   few dozen threads.
# PostgreSQL's own row estimate for the LIKE (from the statistics ANALYZE keeps on the
# indexed UPPER() expressions) tells the two apart for the price of one EXPLAIN (< 1 ms).
# Above this many estimated matching rows the walk wins: collecting costs ~1 µs a row.
COMMON_TERM_ROWS = 20_000
_THREAD_MATCH_SQL = (  # constants only; the search term is always a parameter
    "EXISTS (SELECT 1 FROM inbox_message m WHERE m.thread_id = inbox_thread.id "  # noqa: S608
    "AND UPPER(m.text) LIKE UPPER(%s)) OR EXISTS (SELECT 1 FROM inbox_contact c "
    f"WHERE c.id = inbox_thread.contact_id AND {CONTACT_SEARCH_EXPR} LIKE UPPER(%s))"
)
_ESTIMATE_SQL = (
    "EXPLAIN (FORMAT JSON) SELECT 1 FROM inbox_message m WHERE UPPER(m.text) LIKE UPPER(%s)",
    f"EXPLAIN (FORMAT JSON) SELECT 1 FROM inbox_contact c WHERE {CONTACT_SEARCH_EXPR} LIKE UPPER(%s)",  # noqa: S608
)


def _search_term_is_common(term: str) -> bool:
    """True when PostgreSQL expects the term in so many messages or contacts that walking
    the threads in order beats collecting the matches (see COMMON_TERM_ROWS)."""
    pattern = _like_pattern(term)
    return any(_plan_rows(sql, pattern) > COMMON_TERM_ROWS for sql in _ESTIMATE_SQL)


def _plan_rows(sql: str, pattern: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, [pattern])
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):  # EXPLAIN's json arrives as text
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def _thread_matches(term: str) -> RawSQL:
    """The condition "this thread's messages, or its contact, contain `term`", tested per
    thread while walking threads in order (the plan for common terms)."""
    pattern = _like_pattern(term)
    return RawSQL(_THREAD_MATCH_SQL, [pattern, pattern], output_field=BooleanField())  # noqa: S611


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _thread_ids_matching(term: str) -> RawSQL:
    """Ids of threads whose messages, or whose contact's name or phone, contain `term`."""
    pattern = _like_pattern(term)
    return RawSQL(_THREAD_SEARCH_SQL, [pattern, pattern])  # noqa: S611  # parameters, not interpolation


def message_row_list_for_thread(*, thread_id: int) -> QuerySet[Any]:
    """The thread's messages newest first, as values rows for `representations.message_row_data`."""
    return (
        Message.objects.filter(thread_id=thread_id)
        .order_by("-created_at", "-id")
        .values(*representations.MESSAGE_ROW_FIELDS)
    )


def thread_id_get(*, public_id: Any) -> int:
    """The primary key of the thread with this id in the current company, or Http404: for
    views that only need to know the thread exists."""
    found = Thread.objects.filter(public_id=_uuid(public_id)).values_list("id", flat=True).first()
    if found is None:
        raise Http404("Not found.")
    return found


def message_get(*, public_id: Any) -> Message:
    message = Message.objects.select_related("thread", "sent_by").filter(public_id=_uuid(public_id)).first()
    if message is None:
        raise Http404("Not found.")
    return message


def note_list_for_thread(*, thread: Thread) -> QuerySet[Note]:
    return Note.objects.filter(thread=thread).select_related("author").prefetch_related("mentions")


def contact_queryset() -> QuerySet[Contact]:
    return Contact.objects.prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name")))


def contact_get(*, public_id: Any) -> Contact:
    contact = contact_queryset().filter(public_id=_uuid(public_id)).first()
    if contact is None:
        raise Http404("Not found.")
    return contact


def contact_list(*, search: str | None = None, label: str | None = None) -> QuerySet[Contact]:
    qs = contact_queryset()
    if search:
        term = search.strip()
        qs = qs.filter(Q(name__icontains=term) | Q(profile_name__icontains=term) | Q(phone__icontains=term))
    if label:
        qs = qs.filter(labels__name=label)
    return qs.order_by("-created_at", "-id")


def consent_list_for_contact(*, contact: Contact) -> QuerySet[ConsentEvent]:
    return ConsentEvent.objects.filter(contact=contact).select_related("recorded_by").order_by("-created_at", "-id")


def phone_number_list() -> QuerySet[PhoneNumber]:
    return PhoneNumber.objects.order_by("id")


def phone_number_get(*, public_id: Any) -> PhoneNumber:
    number = PhoneNumber.objects.filter(public_id=_uuid(public_id)).first()
    if number is None:
        raise Http404("Not found.")
    return number


def agent_list() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("name", "email")


def agent_get(*, public_id: Any) -> User:
    agent = User.objects.filter(public_id=_uuid(public_id), is_active=True).first()
    if agent is None:
        raise Http404("Not found.")
    return agent


def label_list() -> QuerySet[Label]:
    return Label.objects.order_by("name")


def canned_reply_list() -> QuerySet[CannedReply]:
    return CannedReply.objects.order_by("shortcut")


def template_list(*, approved_only: bool = False) -> QuerySet[Template]:
    qs = Template.objects.order_by("name", "language")
    if approved_only:
        qs = qs.filter(status=Template.Status.APPROVED)
    return qs


def template_get_approved(*, name: str, language: str) -> Template | None:
    return Template.objects.filter(name=name, language=language, status=Template.Status.APPROVED).first()


# --- the agents' browser inbox ------------------------------------------------------------

# A keyset position: (the sort time, pk) of the last row shown.
Position = tuple[datetime | None, int]


def thread_list_page(*, threads: QuerySet[Thread], after: Position | None, size: int) -> list[Thread]:
    """Up to `size + 1` threads of `threads` (ordered as `thread_list`) after the position;
    the extra row tells the caller whether another page exists. No OFFSET, no COUNT.

    PostgreSQL sorts NULL `last_message_at` (threads nobody wrote in yet) first in
    descending order, so they come before every dated thread.
    """
    if after is not None:
        at, pk = after
        if at is None:
            threads = threads.filter(Q(last_message_at__isnull=True, pk__lt=pk) | Q(last_message_at__isnull=False))
        else:
            threads = threads.filter(Q(last_message_at__lt=at) | Q(last_message_at=at, pk__lt=pk))
    return list(threads[: size + 1])


# What a timeline item shows: the provider's payload and the like stay in the database.
TIMELINE_MESSAGE_FIELDS = (
    "public_id",
    "sender_identity",
    "thread_id",
    "direction",
    "type",
    "text",
    "status",
    "error_code",
    "error_title",
    "error_detail",
    "media_filename",
    "media_file",
    "media_status",
    "template_name",
    "template_language",
    "created_at",
    "sent_by__name",
    "sent_by__email",
)


def _timeline_messages(*, thread: Thread) -> QuerySet[Message]:
    return (
        Message.objects.filter(thread=thread)
        # Send later: a scheduled (or cancelled) message is not in the conversation (yet).
        .exclude(status__in=(Message.Status.SCHEDULED, Message.Status.CANCELLED))
        .select_related("sent_by")
        .only(*TIMELINE_MESSAGE_FIELDS)
        .order_by("-created_at", "-id")
    )


def _timeline_notes(*, thread: Thread) -> QuerySet[Note]:
    """The thread's notes with their author and, as `mention_names`, whom they mention."""
    mentioned = (
        User.objects.filter(mentioned_in_notes=OuterRef("pk"))
        .order_by("name", "email")
        .values(short_name=Coalesce(NullIf("name", Value("")), "email", output_field=CharField()))
    )
    return (
        Note.objects.filter(thread=thread)
        .select_related("author")
        .only("public_id", "thread_id", "body", "created_at", "author__name", "author__email")
        .annotate(mention_names=ArraySubquery(mentioned))
    )


def message_page_for_thread(*, thread: Thread, before: Position | None, size: int) -> list[Message]:
    """Up to `size + 1` of the thread's messages older than the position, newest first,
    with the fields a timeline item shows."""
    messages = _timeline_messages(thread=thread)
    if before is not None:
        at, pk = before
        messages = messages.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    return list(messages[: size + 1])


# Status reports arrive within days of a send; older rows are not looked at again.
MESSAGE_CHANGE_HORIZON = timedelta(days=7)


def message_list_changed_for_thread(
    *, thread: Thread, since: datetime, watched: list[uuid.UUID] | None = None, limit: int = 100
) -> list[Message]:
    """The thread's messages created or whose status moved after `since`, plus the `watched`
    ones (a page's messages still waiting for a status), oldest first.

    `watched` covers status reports stamped with the provider's time, which can be older
    than `since` by the time they are processed.
    """
    recent = _timeline_messages(thread=thread).filter(created_at__gt=since - MESSAGE_CHANGE_HORIZON)
    condition = Q(created_at__gt=since) | Q(status_at__gt=since)
    if watched:
        condition |= Q(public_id__in=watched[:limit])
    return list(reversed(recent.filter(condition)[:limit]))


def note_list_for_thread_between(
    *, thread: Thread, start: datetime | None = None, end: datetime | None = None
) -> list[Note]:
    """The thread's notes with start <= created_at < end (either bound optional), oldest first."""
    notes = _timeline_notes(thread=thread)
    if start is not None:
        notes = notes.filter(created_at__gte=start)
    if end is not None:
        notes = notes.filter(created_at__lt=end)
    return list(notes.order_by("created_at", "id"))


def note_list_created_for_thread(*, thread: Thread, since: datetime) -> list[Note]:
    """Notes added to the thread after `since`, oldest first."""
    return list(_timeline_notes(thread=thread).filter(created_at__gt=since).order_by("created_at", "id"))


def thread_list_for_contact(*, contact: Contact, exclude: Thread | None = None, limit: int = 10) -> list[Thread]:
    """The contact's threads (on any of our numbers), newest activity first."""
    threads = Thread.objects.filter(contact=contact).select_related("phone_number").order_by("-last_message_at", "-id")
    if exclude is not None:
        threads = threads.exclude(pk=exclude.pk)
    return list(threads[:limit])


# --- the REST API (inbox/api/) --------------------------------------------------------------


def thread_row_list_api(
    *,
    status: str | None = None,
    assignee: User | None = None,
    unassigned: bool = False,
    label: str | None = None,
    search: str | None = None,
) -> QuerySet[Any]:
    """`thread_list` as values rows for `representations.thread_row_data`, annotated with
    `activity_at` (the last message's time) and ordered by it, for the API's keyset pager.

    last_message_at is set when a thread is made (threads.thread_get_or_create), so the sort
    key is never NULL and the (last_message_at, id) index serves the keyset page.
    """
    rows = thread_row_list(
        status=status,
        assignee=assignee,
        unassigned=unassigned,
        label=label,
        search=search,
        fields=representations.THREAD_ROW_FIELDS,
    )
    return rows.annotate(activity_at=F("last_message_at")).order_by("-activity_at", "-id")


def note_list_for_thread_api(*, thread: Thread) -> QuerySet[Note]:
    """The thread's notes newest first, with what the API object shows (thread, author, mentions)."""
    return note_list_for_thread(thread=thread).select_related("thread").order_by("-created_at", "-id")


def template_get(*, public_id: Any) -> Template:
    template = Template.objects.filter(public_id=_uuid(public_id)).first()
    if template is None:
        raise Http404("Not found.")
    return template


def phone_number_list_connected(*, company: Company) -> QuerySet[PhoneNumber]:
    """The company's numbers that are connected now (routed to it); a disconnected number
    keeps its row while threads use it, but is no longer listed."""
    routed = PhoneNumberRoute.objects.filter(company=company).values("phone_number_id")
    return PhoneNumber.objects.filter(phone_number_id__in=routed).order_by("-created_at", "-id")


def phone_number_get_connected(*, company: Company, public_id: Any) -> PhoneNumber:
    number = phone_number_list_connected(company=company).filter(public_id=_uuid(public_id)).first()
    if number is None:
        raise Http404("Not found.")
    return number


# --- the agents' browser inbox: list rows as values ---------------------------------------

THREAD_ROW_FIELDS = (
    "id",
    "public_id",
    "status",
    "last_message_at",
    "last_message_preview",
    "unread_count",
    "csat_rating",
    "contact__name",
    "contact__profile_name",
    "contact__phone",
    "assignee__name",
    "assignee__email",
    "label_names",
)


def thread_row_list(
    *,
    status: str | None = None,
    assignee: User | None = None,
    unassigned: bool = False,
    label: str | None = None,
    search: str | None = None,
    fields: tuple[str, ...] = THREAD_ROW_FIELDS,
) -> QuerySet[Any]:
    """`thread_list` as the values a list row shows, label names included: one query, no
    model instances (a page of rows costs a third of the same page as objects)."""
    names = Label.objects.filter(threads=OuterRef("pk")).order_by("name").values("name")
    threads = thread_list(status=status, assignee=assignee, unassigned=unassigned, label=label, search=search)
    threads = threads.select_related(None).prefetch_related(None)
    return threads.annotate(label_names=ArraySubquery(names)).values(*fields)


def thread_row_list_changed(
    *,
    since: datetime,
    status: str | None = None,
    assignee: User | None = None,
    unassigned: bool = False,
    label: str | None = None,
    search: str | None = None,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], list[uuid.UUID]]:
    """Threads changed after `since`, as list-row values: the changed rows matching the
    filters (to show) and the ids of changed threads that no longer match (to remove).
    One query when nothing changed."""
    changed = dict(
        Thread.objects.filter(updated_at__gt=since).order_by("-updated_at").values_list("pk", "public_id")[:limit]
    )
    if not changed:
        return [], []
    rows = thread_row_list(status=status, assignee=assignee, unassigned=unassigned, label=label, search=search)
    matching = list(rows.filter(pk__in=changed))
    shown = {row["id"] for row in matching}
    return matching, [public_id for pk, public_id in changed.items() if pk not in shown]


# --- Settings → Labels and Canned replies ------------------------------------------------------


def label_list_with_usage() -> QuerySet[Label]:
    """Labels by name, each with `thread_count`: how many threads carry it."""
    return Label.objects.annotate(thread_count=Count("threads", distinct=True)).order_by("name")


def label_get(*, public_id: Any) -> Label:
    """The label with this id in the current company, or Http404."""
    label = Label.objects.filter(public_id=_uuid(public_id)).first()
    if label is None:
        raise Http404("Not found.")
    return label


def canned_reply_get(*, public_id: Any) -> CannedReply:
    """The canned reply with this id in the current company, or Http404."""
    canned_reply = CannedReply.objects.filter(public_id=_uuid(public_id)).first()
    if canned_reply is None:
        raise Http404("Not found.")
    return canned_reply
