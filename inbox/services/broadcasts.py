"""Broadcasts: snapshot an audience into Delivery rows, send them in chunks, recover from crashes.

The Delivery rows are the ledger; the broker only carries hints ("look at this id range").
Every step is a conditional UPDATE on those rows, so a task that runs twice, late, or
never is harmless (docs/broadcasts.md has the whole design):

- start: ONE `INSERT … SELECT` snapshots the audience (consent applied, one row per
  contact), then a few chunk tasks are enqueued. Each finished chunk enqueues the next one,
  so at most BROADCAST_WINDOW chunks of a broadcast wait in the queue: broadcasts of
  different companies interleave instead of queueing behind each other.
- chunk: claims its range's due `queued` rows with a conditional UPDATE (→ `sending`,
  with a claim token and a lease), skipping contacts that opted out meanwhile; makes the
  contacts' threads where missing (set-based); sends through the bulk sender with many
  requests in flight under the Redis limits; writes results back in batches under its
  claim token — the outbound Messages are inserted into the threads by the same
  statement, already sent; renews its lease; stops within one batch on pause or cancel.
- sweeper (beat, per company): puts `sending` rows whose lease expired back to `queued`
  and re-dispatches them, restarts broadcasts that went quiet, starts due scheduled ones.
- completion: `remaining` (queued + sending) moves in the same transaction as the rows;
  the flush that brings it to 0 marks the broadcast completed and publishes
  `broadcast.completed`, once (a conditional UPDATE).
"""

from __future__ import annotations

import json
import logging
import queue
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import psycopg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts.models import User
from billing import selectors as billing_selectors
from billing import services as billing
from billing.errors import PlanLimitExceeded
from inbox import broadcast_selectors as selectors
from inbox import tasks
from inbox.errors import TemplateNotApprovedError
from inbox.models import AudienceUpload, Broadcast, Contact, Delivery, Label, Message, PhoneNumber, Template, Thread
from inbox.providers import bulk
from inbox.providers.base import template_parameters_list, template_render
from inbox.services import broadcast_breaker as breaker
from inbox.services import events
from tenants import verification

logger = logging.getLogger(__name__)

DELIVERY = Delivery._meta.db_table
BROADCAST = Broadcast._meta.db_table
CONTACT = Contact._meta.db_table
THREAD = Thread._meta.db_table
MESSAGE = Message._meta.db_table
QUEUED, SENDING, SENT, FAILED, SKIPPED = (
    Delivery.Status.QUEUED,
    Delivery.Status.SENDING,
    Delivery.Status.SENT,
    Delivery.Status.FAILED,
    Delivery.Status.SKIPPED,
)

# Defaults; each can be overridden by a Django setting of the same name (BROADCAST_SETTINGS
# in docs/broadcasts.md lists the env-driven lines for config/settings.py).
DEFAULTS: dict[str, Any] = {
    "BROADCAST_CHUNK_SIZE": 500,
    # Chunk tasks of one broadcast waiting in the queue at once (fairness, see module doc).
    "BROADCAST_WINDOW": 4,
    # Messages per second per business number (the platform's default tier); {phone_number_id: rate}
    # in BROADCAST_NUMBER_RATES overrides it per number (1,000 for upgraded numbers).
    "BROADCAST_NUMBER_RATE": 80.0,
    "BROADCAST_NUMBER_RATES": {},
    # Requests in flight per chunk.
    "BROADCAST_CONCURRENCY": 64,
    # A `sending` row whose lease passed is presumed orphaned (its worker died) and is sent again.
    # Renewed while the chunk runs, so it only needs to exceed one flush interval comfortably.
    "BROADCAST_LEASE_SECONDS": 60,
    # A running broadcast without progress for this long is re-dispatched by the sweeper.
    "BROADCAST_QUIET_SECONDS": 120,
    "BROADCAST_MAX_ATTEMPTS": 8,
    "BROADCAST_FLUSH_SIZE": 250,
    "BROADCAST_FLUSH_SECONDS": 0.25,
}
# Codes that say the whole broadcast cannot go on (template or account state): pause it
# with the reason rather than fail every recipient (whatsapp-platform.md §2.5, §7.5).
STOP_CODES = frozenset({0, 3, 10, 190, 368, 131005, 131031, 131042, 131045, 131048, 131063, 131064, 132015, 132016})

# Routing and beat entries for config/settings.py (see docs/broadcasts.md, "Queues").
BROADCAST_TASK_ROUTES = {
    "inbox.tasks.broadcast_chunk_send_task": {"queue": "broadcasts"},
    "inbox.tasks.broadcast_dispatch_task": {"queue": "broadcasts"},
    "inbox.tasks.broadcast_start_task": {"queue": "broadcasts"},
}
BROADCAST_BEAT_SCHEDULE = {
    "broadcasts-sweep": {
        "task": "tenants.tasks.companies_fanout_task",
        "schedule": 30.0,
        "args": ["inbox.tasks.broadcast_sweep_task"],
        "options": {"expires": 25},
    },
}

NOT_APPROVED = gettext_lazy("The template {name!r} ({language}) is not approved.")
AUDIENCE_INVALID = gettext_lazy("Choose an audience: all, labels, filter, csv or broadcast.")
UPLOAD_UNKNOWN = gettext_lazy("There is no such CSV upload.")
PARAMETERS_INVALID = gettext_lazy("Give the parameters as a list (positional) or an object (named).")
PARAMETER_INVALID = (
    'Parameter {key}: give text, {{"contact": "<field>"}} or {{"column": "<CSV column>"}}, '
    'optionally with a "default" text.'
)
COLUMN_NEEDS_CSV = gettext_lazy(
    "Parameter {key}: a CSV column can fill a parameter only when the audience is a CSV upload."
)
COLUMN_UNKNOWN = gettext_lazy("Parameter {key}: the CSV upload has no column {name!r} (it has: {columns}).")
LABELS_REQUIRED = gettext_lazy("Name at least one label.")
LABEL_UNKNOWN = gettext_lazy("There is no label {name!r}.")
FILTER_INVALID = gettext_lazy("A filter is an object of contact attributes and the values they must have.")
SOURCE_UNKNOWN = gettext_lazy("There is no such broadcast.")
NAME_REQUIRED = gettext_lazy("Give the broadcast a name.")
STATE_CONFLICT = gettext_lazy("A {status} broadcast cannot be {action}.")


class BroadcastStateError(Exception):
    """The broadcast's status forbids the action (API: 409 conflict)."""


def conf(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def number_rate(phone_number: PhoneNumber) -> float:
    return float(conf("BROADCAST_NUMBER_RATES").get(phone_number.phone_number_id, conf("BROADCAST_NUMBER_RATE")))


def _now_sql() -> str:
    return "clock_timestamp()"


# --- create, dry run ----------------------------------------------------------------------


def _audience_validate(audience: dict[str, Any]) -> dict[str, Any]:
    kind = audience.get("type") if isinstance(audience, dict) else None
    if kind not in Broadcast.AudienceType.values:
        raise ValidationError({"audience": [AUDIENCE_INVALID]})
    clean: dict[str, Any] = {"type": kind}
    if kind == Broadcast.AudienceType.LABELS:
        names = audience.get("labels")
        if not isinstance(names, list) or not names:
            raise ValidationError({"audience": [LABELS_REQUIRED]})
        known = set(Label.objects.filter(name__in=names).values_list("name", flat=True))
        for name in names:
            if name not in known:
                raise ValidationError({"audience": [LABEL_UNKNOWN.format(name=name)]})
        clean["labels"] = [str(n) for n in names]
    elif kind == Broadcast.AudienceType.FILTER:
        attrs = audience.get("filter")
        if not isinstance(attrs, dict) or not attrs:
            raise ValidationError({"audience": [FILTER_INVALID]})
        clean["filter"] = attrs
    elif kind == Broadcast.AudienceType.BROADCAST:
        source = audience.get("broadcast")
        found = Broadcast.objects.filter(pk=source).first() if isinstance(source, int) else None
        if found is None:
            found = _by_public_id(Broadcast, source)
        if found is None:
            raise ValidationError({"audience": [SOURCE_UNKNOWN]})
        clean["broadcast"] = found.pk
        clean["broadcast_id"] = str(found.public_id)
        clean["only_unread"] = bool(audience.get("only_unread"))
    elif kind == Broadcast.AudienceType.CSV:
        upload = _upload_find(audience.get("upload_id"))
        if upload is None:
            raise ValidationError({"audience": [UPLOAD_UNKNOWN]})
        clean["upload"] = upload.pk
        clean["upload_id"] = str(upload.public_id)
    return clean


ModelT = TypeVar("ModelT", bound=models.Model)


def _by_public_id(model: type[ModelT], public_id: Any) -> ModelT | None:
    try:
        key = uuid.UUID(str(public_id))
    except ValueError:
        return None
    return model._default_manager.filter(public_id=key).first()


def _upload_find(upload_id: Any) -> AudienceUpload | None:
    return _by_public_id(AudienceUpload, upload_id)


def _parameters_validate(parameters: Any, audience: dict[str, Any]) -> list[Any] | dict[str, Any]:
    """Fixed values as they are; references to contact fields or CSV columns checked, a CSV
    column's name matched without regard to case (selectors.parameters_sql lists the syntax)."""
    if parameters is None:
        return []
    if not isinstance(parameters, list | dict):
        raise ValidationError({"parameters": [PARAMETERS_INVALID]})
    columns: list[str] = []
    if audience.get("type") == Broadcast.AudienceType.CSV:
        upload = AudienceUpload.objects.filter(pk=audience["upload"]).values_list("columns", flat=True).first()
        columns = list(upload or [])
    by_lower = {column.lower(): column for column in columns}

    def clean(key: str, value: Any) -> Any:
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return value
        if not selectors.parameter_is_reference(value) or set(value) - {"contact", "column", "default"}:
            raise ValidationError({"parameters": [PARAMETER_INVALID.format(key=key)]})
        if ("contact" in value) == ("column" in value) or not isinstance(value.get("default", ""), str):
            raise ValidationError({"parameters": [PARAMETER_INVALID.format(key=key)]})
        name = value.get("contact", value.get("column"))
        if not isinstance(name, str) or not name.strip():
            raise ValidationError({"parameters": [PARAMETER_INVALID.format(key=key)]})
        reference = {"contact": name.strip()} if "contact" in value else {}
        if "column" in value:
            if audience.get("type") != Broadcast.AudienceType.CSV:
                raise ValidationError({"parameters": [COLUMN_NEEDS_CSV.format(key=key)]})
            column = by_lower.get(name.strip().lower())
            if column is None:
                listed = ", ".join(columns) or "none but phone"
                raise ValidationError({"parameters": [COLUMN_UNKNOWN.format(key=key, name=name, columns=listed)]})
            reference = {"column": column}
        if value.get("default"):
            reference["default"] = value["default"]
        return reference

    if isinstance(parameters, dict):
        return {str(key): clean(str(key), value) for key, value in parameters.items()}
    return [clean(str(index), value) for index, value in enumerate(parameters, start=1)]


@transaction.atomic
def broadcast_create(
    *,
    name: str,
    template: Template,
    phone_number: PhoneNumber,
    audience: dict[str, Any],
    template_parameters: list[Any] | dict[str, Any] | None = None,
    scheduled_at: datetime | None = None,
    created_by: User | None = None,
    canary: dict[str, Any] | None = None,
    failure_threshold: float | None = None,
) -> Broadcast:
    """A draft broadcast; the template must be approved and the audience well formed.

    `canary` ({"count": N} or {"percent": P}, optional "hold_seconds") and
    `failure_threshold` (0-1] are checked by broadcast_breaker (ValidationError on fields
    `canary` / `failure_threshold`).
    """
    if not name.strip():
        raise ValidationError({"name": [NAME_REQUIRED]})
    if template.status != Template.Status.APPROVED:
        raise TemplateNotApprovedError(NOT_APPROVED.format(name=template.name, language=template.language))
    audience = _audience_validate(audience)
    broadcast = Broadcast(
        name=name.strip()[:200],
        template=template,
        template_parameters=_parameters_validate(template_parameters, audience),
        phone_number=phone_number,
        audience=audience,
        scheduled_at=scheduled_at,
        created_by=created_by,
        failure_threshold=breaker.failure_threshold_clean(failure_threshold),
        **breaker.canary_clean(canary),
    )
    broadcast.full_clean()
    broadcast.save()
    return broadcast


def broadcast_cost_estimate(*, category: str, count: int) -> dict[str, Any]:
    """What `count` messages of `category` cost on the company's plan, from its rate card.

    Priced for the market of the company's first connected number (a business's customers
    are mostly in its own country; other markets fall back to the card's default), utility
    as outside the window (the upper bound). Billing books the exact price per recipient
    at delivery.
    """
    number = PhoneNumber.objects.order_by("id").values_list("display_number", flat=True).first()
    market = billing.market_of(number) if number else "*"
    return billing_selectors.cost_estimate(
        company=billing_selectors.company_current(), category=category, count=count, market=market
    )


def broadcast_dry_run(*, broadcast: Broadcast) -> dict[str, Any]:
    """Audience size, exclusions by reason, cost (from the rate card) and duration at the number's rate."""
    counts = selectors.broadcast_audience_counts(broadcast=broadcast)
    rate = number_rate(broadcast.phone_number)
    return {
        **counts,
        "cost": broadcast_cost_estimate(category=broadcast.template.category, count=counts["audience"]),
        "estimated_seconds": round(counts["audience"] / rate, 1) if rate else None,
    }


# --- start, dispatch ------------------------------------------------------------------------


def _locked(broadcast: Broadcast) -> Broadcast:
    return Broadcast.objects.select_for_update().select_related("template", "phone_number").get(pk=broadcast.pk)


def _publish_completed(broadcast: Broadcast) -> None:
    events.event_publish(event_type="broadcast.completed", data=selectors.broadcast_data(broadcast))


# A snapshot at least this large refreshes the delivery table's statistics (see _snapshot).
ANALYZE_AFTER = 10_000


def _snapshot(broadcast: Broadcast) -> tuple[int, int | None, int | None]:
    """One INSERT … SELECT of the audience; a CSV audience in file order, each recipient's
    own parameters resolved in the same statement when the parameters name any.

    Every audience yields each contact once by construction (a condition on contacts, or an
    upload's rows, unique per contact), and the broadcast is locked and still a draft, so
    there is no `ON CONFLICT DO NOTHING`: a speculative insertion per row made the 1M
    snapshot a third slower. The unique (broadcast, contact) index still refuses a
    duplicate — loudly, rolling the start back — should a future audience produce one.
    """
    source, scope, params = selectors.audience_from_sql(broadcast.audience)
    eligible = selectors.audience_eligible_sql(marketing=selectors.broadcast_is_marketing(broadcast))
    columns, values, value_params = "", "", []
    if selectors.parameters_are_personal(broadcast.template_parameters):
        expression, value_params = selectors.parameters_sql(broadcast.template_parameters)
        columns, values = ", parameters", f", {expression}"
    order = "r.line" if broadcast.audience.get("type") == Broadcast.AudienceType.CSV else "c.id"
    sql = f"""
        INSERT INTO {DELIVERY} (broadcast_id, contact_id{columns})
        SELECT %s, c.id{values} FROM {source} WHERE {scope} AND {eligible} ORDER BY {order}
    """  # noqa: S608 - table names and fixed conditions only
    # The id range comes from the sequence around the INSERT, then two primary-key probes
    # find the exact first and last row inside it, instead of RETURNING every id into a
    # CTE to take count/min/max (a tuplestore of a million ids: a tenth of the snapshot).
    # A concurrent snapshot may draw ids inside the range; the probes skip them.
    sequence = f"pg_get_serial_sequence('{DELIVERY}', 'id')"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval({sequence})")
        below = cursor.fetchone()[0]
        cursor.execute(sql, [broadcast.pk, *value_params, *params])
        count = cursor.rowcount
        if not count:
            return 0, None, None
        cursor.execute(f"SELECT nextval({sequence})")
        above = cursor.fetchone()[0]
        bounds = f"SELECT id FROM {DELIVERY} WHERE broadcast_id = %s AND id > %s AND id < %s ORDER BY id"  # noqa: S608
        cursor.execute(bounds + " LIMIT 1", [broadcast.pk, below, above])
        first = cursor.fetchone()[0]
        cursor.execute(bounds + " DESC LIMIT 1", [broadcast.pk, below, above])
        last = cursor.fetchone()[0]
        if count >= ANALYZE_AFTER:
            # Without statistics that know the new broadcast, PostgreSQL takes its id for a
            # rare value and ANDs the (broadcast, contact) index into every chunk's range
            # scan: ~5 ms per chunk statement reading the whole broadcast's index entries,
            # where the primary-key range alone reads 500. ANALYZE samples a fixed number of
            # rows (~0.1 s at 1M), sees this transaction's own inserts, and holds a lock that
            # only another ANALYZE or VACUUM waits for.
            cursor.execute(f"ANALYZE {DELIVERY}")
    return count, first, last


@transaction.atomic
def broadcast_start(*, broadcast: Broadcast, now: datetime | None = None) -> Broadcast:
    """Snapshots the audience and starts sending (or schedules a draft whose time is ahead).

    Raises BroadcastStateError unless draft or scheduled, TemplateNotApprovedError when the
    template is no longer approved. The chunk tasks are enqueued after commit.
    """
    now = now or timezone.now()
    broadcast = _locked(broadcast)
    if broadcast.status not in (Broadcast.Status.DRAFT, Broadcast.Status.SCHEDULED):
        raise BroadcastStateError(STATE_CONFLICT.format(status=broadcast.status, action="started"))
    if broadcast.status == Broadcast.Status.DRAFT and broadcast.scheduled_at and broadcast.scheduled_at > now:
        broadcast.status = Broadcast.Status.SCHEDULED
        broadcast.save(update_fields=["status", "updated_at"])
        return broadcast
    template = broadcast.template
    if template.status != Template.Status.APPROVED:
        raise TemplateNotApprovedError(NOT_APPROVED.format(name=template.name, language=template.language))
    count, first, last = _snapshot(broadcast)
    if count:
        # The whole audience against the plan, up front: over a limit, the snapshot rolls back
        # and nothing is sent (PlanLimitExceeded names the limit and the numbers).
        billing.limits_reserve(company=billing_selectors.company_current(), kind=billing.KIND_BROADCAST, amount=count)
    broadcast.total = broadcast.remaining = count
    broadcast.first_delivery_id, broadcast.last_delivery_id = first, last
    broadcast.dispatch_cursor = first
    broadcast.started_at = broadcast.heartbeat_at = now
    broadcast.status = Broadcast.Status.RUNNING
    breaker.canary_begin(broadcast)  # during a canary, dispatch stops at its end
    if count == 0:
        broadcast.status = Broadcast.Status.COMPLETED
        broadcast.completed_at = now
    broadcast.save()
    if count == 0:
        _publish_completed(broadcast)
    else:
        tasks.broadcast_dispatch_task.delay_on_commit(broadcast.pk, conf("BROADCAST_WINDOW"))
    return broadcast


def _enqueue_chunk(broadcast_id: int, lo: int, hi: int, *, chain: bool, countdown: float | None = None) -> None:
    if countdown:
        tasks.broadcast_chunk_send_task.apply_async((broadcast_id, lo, hi, chain), countdown=countdown)
    else:
        tasks.broadcast_chunk_send_task.delay(broadcast_id, lo, hi, chain)


def broadcast_dispatch(*, broadcast_id: int, chunks: int) -> int:
    """Hands the next `chunks` id ranges of a running broadcast to chunk tasks; returns how many.

    The cursor moves under the row lock, so no range is handed out twice by dispatch.
    """
    size = int(conf("BROADCAST_CHUNK_SIZE"))
    ranges: list[tuple[int, int]] = []
    with transaction.atomic():
        broadcast = Broadcast.objects.select_for_update().filter(pk=broadcast_id).first()
        if broadcast is None or broadcast.status != Broadcast.Status.RUNNING or broadcast.last_delivery_id is None:
            return 0
        cursor = broadcast.dispatch_cursor or broadcast.first_delivery_id or 0
        end = breaker.dispatch_end(broadcast)
        while len(ranges) < chunks and cursor < end:
            ranges.append((cursor, min(cursor + size, end)))
            cursor += size
        if ranges:
            Broadcast.objects.filter(pk=broadcast_id).update(dispatch_cursor=min(cursor, end))
            for lo, hi in ranges:
                transaction.on_commit(lambda lo=lo, hi=hi: _enqueue_chunk(broadcast_id, lo, hi, chain=True))
    return len(ranges)


def _redispatch_queued(broadcast: Broadcast, *, ids: list[int] | None = None) -> int:
    """Enqueues a chunk task for every dispatched range that still has queued rows."""
    size = int(conf("BROADCAST_CHUNK_SIZE"))
    base = broadcast.first_delivery_id or 0
    if ids is None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT DISTINCT (id - %s) / %s FROM {DELIVERY} WHERE broadcast_id = %s AND status = %s AND id < %s",  # noqa: S608
                [base, size, broadcast.pk, QUEUED, broadcast.dispatch_cursor or base],
            )
            starts = sorted(row[0] for row in cursor.fetchall())
    else:
        starts = sorted({(i - base) // size for i in ids})
    # Never past the dispatch cursor: rows beyond it (e.g. after a canary) are not due yet.
    end = min((broadcast.last_delivery_id or 0) + 1, broadcast.dispatch_cursor or base)
    for k in starts:
        lo = base + k * size
        transaction.on_commit(lambda lo=lo: _enqueue_chunk(broadcast.pk, lo, min(lo + size, end), chain=False))
    return len(starts)


# --- chunk ------------------------------------------------------------------------------------


@dataclass
class ChunkReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retry: int = 0
    released: int = 0
    retry_in: float | None = None  # seconds until the range's next retry is due


@contextmanager
def _bound_cursor() -> Iterator[Any]:
    """A cursor of the current connection whose parameters PostgreSQL binds.

    Django's psycopg cursors bind client-side: every parameter is quoted into the SQL text
    in Python. A chunk's statements carry arrays of 250-500 values (thirteen of them in a
    flush), and quoting them was two fifths of a chunk task's own CPU (py-spy). Written
    `%(name)b`, they travel as binary parameters instead, at a fifth of the cost. The
    cursor runs in the same connection and transaction, through Django's wrapper (query
    logging, execute wrappers), and never prepares statements: a pooler in transaction
    mode stays possible.
    """
    # A Django cursor first: django-tenants sets the schema's search_path whenever one is
    # made, and a psycopg cursor made directly would run under whatever path was set last.
    connection.cursor().close()
    raw = psycopg.Cursor(connection.connection)
    cursor = connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)
    try:
        yield cursor
    finally:
        raw.close()


def _claim(broadcast: Broadcast, lo: int, hi: int, token: int) -> list[tuple[int, int, int, int | None, str]]:
    """Claims the range's due queued rows → sending (or skipped when consent changed).

    Returns (delivery id, contact id, new status, attempts, phone) per row.
    """
    marketing = selectors.broadcast_is_marketing(broadcast)
    lease = int(conf("BROADCAST_LEASE_SECONDS"))
    skip = """CASE WHEN c.opted_out THEN 'opted_out' WHEN NOT c.opted_in THEN 'not_opted_in'
                WHEN %(marketing)s AND c.marketing_opted_out THEN 'marketing_opted_out' ELSE '' END"""
    sql = f"""
        UPDATE {DELIVERY} d SET
          status = CASE WHEN ({skip}) = '' THEN {SENDING} ELSE {SKIPPED} END,
          skip_reason = {skip},
          -- a recipient left out keeps no personal values (a CSV column, a contact field)
          parameters = CASE WHEN ({skip}) = '' THEN d.parameters END,
          claim_token = %(token)s,
          lease_until = {_now_sql()} + %(lease)s * interval '1 second'
        FROM {CONTACT} c
        WHERE c.id = d.contact_id AND d.broadcast_id = %(b)s AND d.id >= %(lo)s AND d.id < %(hi)s
          AND d.status = {QUEUED} AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= {_now_sql()})
        RETURNING d.id, d.contact_id, d.status, d.attempts, c.phone
    """  # noqa: S608 - table names only
    params = {"token": token, "lease": lease, "b": broadcast.pk, "lo": lo, "hi": hi, "marketing": marketing}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        # Contacts deleted since the snapshot (the row keeps no personal data): skipped.
        cursor.execute(
            f"""UPDATE {DELIVERY} d SET status = {SKIPPED}, skip_reason = 'contact_deleted', parameters = NULL
                WHERE d.broadcast_id = %s AND d.id >= %s AND d.id < %s AND d.status = {QUEUED}
                  AND NOT EXISTS (SELECT 1 FROM {CONTACT} c WHERE c.id = d.contact_id)""",  # noqa: S608
            [broadcast.pk, lo, hi],
        )
        gone = cursor.rowcount
    skipped = sum(1 for r in rows if r[2] == SKIPPED) + gone
    if skipped:
        _remaining_move(broadcast.pk, skipped)
    return rows


@dataclass
class _Chunk:
    """What a chunk's flushes write into the threads, prepared once per chunk: the sender
    identity and verify-link payload, and per claimed delivery its thread, the public id its
    Message will have (sent as biz_opaque_callback_data before the row exists), and its text
    and parameters (the broadcast's, or the recipient's own from `Delivery.parameters`)."""

    template: Template
    identity: str
    payload: str
    thread_of: dict[int, int]
    threads_made: set[int]  # made by this chunk with their preview: not bumped again
    public_id_of: dict[int, str]
    text_of: dict[int, str]
    parameters_of: dict[int, str]
    body_parameters_of: dict[int, list[dict[str, Any]]]


def _threads_prepare(broadcast: Broadcast, previews: dict[int, str]) -> tuple[dict[int, int], set[int]]:
    """The thread of each contact on the broadcast's number, made when missing.

    `previews` maps contact id → the text its message will have. Returns {contact id:
    thread id} and the ids of the threads made here. Driven by the claimed ids (`unnest`),
    so PostgreSQL walks the unique (contact, number) index whatever its statistics say — a
    first broadcast to a fresh import has none yet.

    A thread made here is born with its preview and time, so recording the send does not
    update it again: for a fresh audience that is one row version (and ten index entries)
    fewer per recipient. It starts resolved — nothing for agents to do until a reply, which
    reopens it (threads.thread_record_inbound) — so it shows in no agent's open list while
    its message is on the way.
    """
    pn = broadcast.phone_number_id
    contact_ids = list(previews)
    with _bound_cursor() as cursor:
        cursor.execute(
            f"""WITH c AS (SELECT * FROM unnest(%(cids)b::bigint[], %(texts)b::text[]) AS c(cid, text)),
                made AS (
                  INSERT INTO {THREAD} (public_id, contact_id, phone_number_id, status, last_message_preview,
                      unread_count, created_at, updated_at, last_message_at)
                  SELECT gen_random_uuid(), c.cid, %(pn)s, 'resolved', left(replace(c.text, E'\\n', ' '), 200), 0,
                         now(), now(), now() FROM c
                  ON CONFLICT (contact_id, phone_number_id) DO NOTHING
                  RETURNING contact_id, id
                )
                SELECT contact_id, id, true FROM made
                UNION ALL
                SELECT t.contact_id, t.id, false FROM c
                JOIN {THREAD} t ON t.contact_id = c.cid AND t.phone_number_id = %(pn)s""",  # noqa: S608
            {"cids": contact_ids, "texts": [previews[c] for c in contact_ids], "pn": pn},
        )
        found: dict[int, int] = {}
        made: set[int] = set()
        for contact_id, thread_id, new in cursor.fetchall():
            found[contact_id] = thread_id
            if new:
                made.add(thread_id)
        missing = [c for c in contact_ids if c not in found]
        if missing:  # made by a concurrent transaction after this statement's snapshot
            cursor.execute(
                f"SELECT contact_id, id FROM {THREAD} WHERE contact_id = ANY(%b) AND phone_number_id = %s",  # noqa: S608
                [missing, pn],
            )
            found.update(cursor.fetchall())
    return found, made


def _personal_parameters(broadcast: Broadcast, delivery_ids: list[int]) -> dict[int, Any]:
    """Each recipient's own parameters, resolved by the snapshot into `Delivery.parameters`
    when the broadcast's parameters name contact fields or CSV columns; {} otherwise."""
    if not selectors.parameters_are_personal(broadcast.template_parameters):
        return {}
    with _bound_cursor() as cursor:
        cursor.execute(
            f"SELECT id, parameters FROM {DELIVERY} WHERE id = ANY(%b) AND parameters IS NOT NULL",  # noqa: S608
            [delivery_ids],
        )
        # Django's psycopg setup hands jsonb over as text (JSONField decodes it itself).
        return {did: json.loads(value) if isinstance(value, str) else value for did, value in cursor.fetchall()}


def _chunk_prepare(broadcast: Broadcast, sending: list[tuple[int, int]], link: dict[str, Any] | None = None) -> _Chunk:
    """Call in the claim's transaction."""
    template = broadcast.template
    delivery_ids = [d for d, _ in sending]
    own = _personal_parameters(broadcast, delivery_ids)
    shared_text = template_render(template.body, broadcast.template_parameters)
    shared_parameters = json.dumps(broadcast.template_parameters or [])
    text_of = {d: template_render(template.body, own[d]) if d in own else shared_text for d in delivery_ids}
    thread_of_contact, made = _threads_prepare(broadcast, {c: text_of[d] for d, c in sending})
    company = getattr(connection, "tenant", None)
    return _Chunk(
        template=template,
        identity=json.dumps(verification.sender_identity_snapshot(company=company)),  # once per chunk
        payload=json.dumps(link or {}),
        thread_of={d: thread_of_contact[c] for d, c in sending},
        threads_made=made,
        public_id_of={d: str(uuid.uuid4()) for d in delivery_ids},
        text_of=text_of,
        parameters_of={d: json.dumps(own[d]) if d in own else shared_parameters for d in delivery_ids},
        body_parameters_of={d: template_parameters_list(parameters) for d, parameters in own.items()},
    )


# Recording finished sends takes two statements. The first locks the rows this claim still
# holds (a primary-key lookup per id: rows the sweeper took back are left alone). The second
# inserts the outbound Messages for exactly those into their threads — already sent, unknown,
# or failed with the code — moves the deliveries to their final state and bumps the threads.
# The Message is born with its wamid and status: inserted once and never updated by the
# chunk, so its indexes (a trigram GIN among them) are written once per recipient. (An
# earlier design inserted a `queued` message before the send and updated it after; a wamid
# update cannot be HOT, so every message paid for all its indexes twice — most of a chunk's
# database time.) Message ids are drawn from the sequence up front, so no statement joins
# on a data-modifying CTE, whose row estimates (1) made PostgreSQL compare every row with
# every row.
_HELD_SQL = f"""
    SELECT id FROM {DELIVERY} WHERE id = ANY(%(ids)b) AND status = {SENDING} AND claim_token = %(token)s
    FOR UPDATE
"""  # noqa: S608 - table names and constants only
_FINISH_SQL = f"""
    WITH u AS MATERIALIZED (
      SELECT u.*, nextval((SELECT pg_get_serial_sequence('{MESSAGE}', 'id'))::regclass) AS mid
      FROM unnest(%(ids)b::bigint[], %(dstatus)b::smallint[], %(tids)b::bigint[], %(pubs)b::uuid[],
                  %(wamids)b::text[], %(mstatus)b::text[], %(ranks)b::smallint[], %(codes)b::int[],
                  %(titles)b::text[], %(details)b::text[], %(texts)b::text[], %(params)b::text[],
                  %(bumps)b::boolean[])
        AS u(id, dstatus, tid, pub, wamid, mstatus, mrank, code, title, detail, text, params, bump)
    ),
    msg AS (
      INSERT INTO {MESSAGE} (id, public_id, thread_id, direction, type, text, payload, context_wamid, wamid,
          status, status_rank, status_at, sent_at, error_code, error_title, error_detail, media_id,
          media_mime_type, media_filename, media_file, media_status, template_name, template_language,
          template_parameters, template_category, sender_identity, created_at)
      SELECT u.mid, u.pub, u.tid, 'outbound', 'template', u.text, %(payload)s::jsonb, '', NULLIF(u.wamid, ''),
          u.mstatus, u.mrank, now(), CASE WHEN u.mstatus = 'sent' THEN now() END, u.code,
          COALESCE(u.title, ''), COALESCE(u.detail, ''), '', '', '', '', '', %(tn)s, %(tl)s,
          u.params::jsonb, %(tc)s, %(si)s::jsonb, now()
      FROM u
    ),
    del AS (
      UPDATE {DELIVERY} d SET status = u.dstatus, message_id = u.mid,
             sent_at = CASE WHEN u.dstatus = {SENT} THEN now() END,
             error_code = u.code, error_title = COALESCE(u.title, ''),
             attempts = d.attempts + CASE WHEN u.dstatus = {FAILED} THEN 1 ELSE 0 END,
             lease_until = NULL, claim_token = NULL
      FROM u WHERE d.id = u.id
      RETURNING d.status
    ),
    thr AS (
      UPDATE {THREAD} t SET last_message_at = now(), last_message_preview = left(replace(u.text, E'\\n', ' '), 200),
             updated_at = now()
      FROM u WHERE t.id = u.tid AND u.bump
    )
    SELECT count(*) FILTER (WHERE status = {SENT}), count(*) FILTER (WHERE status = {FAILED}) FROM del
"""  # noqa: S608 - table names and constants only


def _remaining_move(broadcast_id: int, finished: int) -> None:
    """Counts `finished` recipients out; completes the broadcast when none is left.

    Call inside the transaction that moved those rows out of queued/sending.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {BROADCAST} SET remaining = GREATEST(remaining - %s, 0), heartbeat_at = now() "  # noqa: S608
            "WHERE id = %s RETURNING remaining",
            [finished, broadcast_id],
        )
        row = cursor.fetchone()
    if row is not None and row[0] == 0:
        _complete_if_done(broadcast_id)


def _complete_if_done(broadcast_id: int) -> bool:
    now = timezone.now()
    done = Broadcast.objects.filter(
        pk=broadcast_id,
        status__in=[Broadcast.Status.RUNNING, Broadcast.Status.PAUSED],
        remaining=0,
    ).update(status=Broadcast.Status.COMPLETED, completed_at=now, updated_at=now)
    if done:
        broadcast = Broadcast.objects.select_related("template").get(pk=broadcast_id)
        _publish_completed(broadcast)
    return bool(done)


def _backoff(attempts: int, result: bulk.BulkResult) -> float:
    if result.retry_after is not None:
        return result.retry_after
    if result.code == 131056:  # the pair limit: 4^X s, as the platform suggests (§3.6)
        return float(min(4**attempts, 256))
    return min(60.0, 2.0 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter


def _flush(
    broadcast: Broadcast,
    token: int,
    results: list[bulk.BulkResult],
    attempts: dict[int, int],
    report: ChunkReport,
    chunk: _Chunk,
) -> str:
    """Writes a batch of results under the claim token; returns the broadcast's status.

    Rows no longer held by this token (the sweeper took them back) are left alone.
    """
    sent_ids, sent_wamids = [], []
    unknown_ids: list[int] = []
    failed: list[tuple[int, int | None, str, str]] = []
    retry_ids, retry_at = [], []
    released_ids: list[int] = []
    max_attempts = int(conf("BROADCAST_MAX_ATTEMPTS"))
    stop: tuple[str, str] | None = None
    throttled = 0
    now = time.time()
    for r in results:
        if r.outcome == bulk.SENT:
            sent_ids.append(r.delivery_id)
            sent_wamids.append(r.wamid)
        elif r.outcome == bulk.UNKNOWN:
            unknown_ids.append(r.delivery_id)
        elif r.outcome == bulk.FAILED and r.code in STOP_CODES:
            # The whole broadcast cannot go on (template or account state): the recipient is
            # not at fault, so it goes back to the queue and the broadcast pauses.
            released_ids.append(r.delivery_id)
            stop = stop or breaker.stop_code_reason(r.code, r.title)
        elif r.outcome == bulk.FAILED:
            failed.append((r.delivery_id, r.code, r.title[:255], r.detail))
        elif r.outcome == bulk.RETRY:
            throttled += r.code in breaker.THROTTLE_CODES
            tried = attempts.get(r.delivery_id, 0) + 1
            if tried >= max_attempts:
                failed.append((r.delivery_id, r.code, r.title[:255] or "Gave up", r.detail))
            else:
                retry_ids.append(r.delivery_id)
                retry_at.append(now + _backoff(tried, r))
        else:
            released_ids.append(r.delivery_id)
    finished = 0
    sent_before, failed_before = report.sent, report.failed
    with transaction.atomic(), connection.cursor() as cursor, _bound_cursor() as bound:
        # Lock order: this claim's delivery rows first, the broadcast's row last — the order
        # of a claim and of an erasure (privacy._deliveries_end), so none of them deadlocks
        # another. The broadcast's row is the one every chunk of the run writes
        # (`remaining`), so the common flush takes it by its last statement and holds it only
        # for the commit. (Locked first, two workers' flushes ran one after the other: a third
        # of the samples in pg_stat_activity were waits on it.) Releasing rows is the
        # exception: whether they go back to the queue or are skipped depends on a cancel, so
        # the status is then read under the broadcast's lock, serialised with
        # broadcast_cancel (which locks the broadcast, then only `queued` rows: never these).
        finishing = [(i, SENT, w, "sent", 2, None, None, None) for i, w in zip(sent_ids, sent_wamids, strict=True)]
        finishing += [(i, SENT, "", "unknown", 1, None, None, None) for i in unknown_ids]
        finishing += [(i, FAILED, "", "failed", 5, code, title, detail) for i, code, title, detail in failed]
        if finishing or released_ids:
            bound.execute(_HELD_SQL, {"ids": [f[0] for f in finishing] + released_ids, "token": token})
            held_ids = {row[0] for row in bound.fetchall()}
            finishing = [f for f in finishing if f[0] in held_ids]
        rows = Broadcast.objects.filter(pk=broadcast.pk)
        if released_ids:
            rows = rows.select_for_update()
        status, throttled_since = rows.values_list("status", "throttled_since").get()
        held = f"d.status = {SENDING} AND d.claim_token = %(token)s"
        if finishing:
            ids = [f[0] for f in finishing]
            bound.execute(
                _FINISH_SQL,
                {
                    "ids": ids,
                    "dstatus": [f[1] for f in finishing],
                    "tids": [chunk.thread_of[i] for i in ids],
                    "pubs": [chunk.public_id_of[i] for i in ids],
                    "wamids": [f[2] for f in finishing],
                    "mstatus": [f[3] for f in finishing],
                    "ranks": [f[4] for f in finishing],
                    "codes": [f[5] for f in finishing],
                    "titles": [f[6] for f in finishing],
                    "details": [f[7] for f in finishing],
                    "texts": [chunk.text_of[i] for i in ids],
                    "params": [chunk.parameters_of[i] for i in ids],
                    "bumps": [chunk.thread_of[i] not in chunk.threads_made for i in ids],
                    "token": token,
                    "payload": chunk.payload,
                    "tn": chunk.template.name,
                    "tl": chunk.template.language,
                    "tc": chunk.template.category,
                    "si": chunk.identity,
                },
            )
            moved, n_failed = bound.fetchone()
            report.sent += moved
            report.failed += n_failed
            finished += moved + n_failed
        if retry_ids:
            cursor.execute(
                f"""UPDATE {DELIVERY} d SET status = {QUEUED}, attempts = d.attempts + 1,
                        next_attempt_at = to_timestamp(u.at), lease_until = NULL, claim_token = NULL
                    FROM unnest(%(ids)s::bigint[], %(at)s::float8[]) AS u(id, at)
                    WHERE d.id = u.id AND {held}""",  # noqa: S608
                {"ids": retry_ids, "at": retry_at, "token": token},
            )
            report.retry += cursor.rowcount
            if cursor.rowcount:
                soonest = min(retry_at) - now
                report.retry_in = soonest if report.retry_in is None else min(report.retry_in, soonest)
        if released_ids:
            skip = status == Broadcast.Status.CANCELLED
            cursor.execute(
                f"""UPDATE {DELIVERY} d SET status = %(status)s, skip_reason = %(reason)s,
                        lease_until = NULL, claim_token = NULL
                    FROM unnest(%(ids)s::bigint[]) AS u(id) WHERE d.id = u.id AND {held}""",  # noqa: S608
                {
                    "ids": released_ids,
                    "token": token,
                    "status": SKIPPED if skip else QUEUED,
                    "reason": "cancelled" if skip else "",
                },
            )
            report.released += cursor.rowcount
            if skip:
                report.skipped += cursor.rowcount
                finished += cursor.rowcount
                # A thread this chunk made for a recipient now skipped got a preview of a
                # message that will not be sent: it goes back to empty while no message exists.
                made = [chunk.thread_of[i] for i in released_ids if chunk.thread_of.get(i) in chunk.threads_made]
                if made:
                    cursor.execute(
                        f"""UPDATE {THREAD} t SET last_message_preview = ''
                            WHERE t.id = ANY(%s) AND NOT EXISTS (SELECT 1 FROM {MESSAGE} m WHERE m.thread_id = t.id)""",  # noqa: S608
                        [made],
                    )
        if status == Broadcast.Status.RUNNING:
            # The circuit breaker (broadcast_breaker): a stop code at once, a lasting
            # rate-limit storm, or the recent failure rate / a burst of one code.
            moved_sent = report.sent - sent_before
            if (
                (stop and breaker.trip(broadcast_id=broadcast.pk, code=stop[0], reason=stop[1]))
                or breaker.throttle_track(
                    broadcast_id=broadcast.pk,
                    sent=moved_sent,
                    throttled=throttled,
                    now=timezone.now(),
                    since=throttled_since,
                )
                or (report.failed > failed_before and breaker.check(broadcast_id=broadcast.pk))
            ):
                status = Broadcast.Status.PAUSED
        if finished:
            _remaining_move(broadcast.pk, finished)
        else:
            Broadcast.objects.filter(pk=broadcast.pk).update(heartbeat_at=timezone.now())
    return status


def _lease_renew(broadcast_id: int, token: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {DELIVERY} SET lease_until = {_now_sql()} + %s * interval '1 second' "  # noqa: S608
            f"WHERE broadcast_id = %s AND status = {SENDING} AND claim_token = %s",
            [int(conf("BROADCAST_LEASE_SECONDS")), broadcast_id, token],
        )


def _next_due_in(broadcast_id: int, lo: int, hi: int) -> float | None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT extract(epoch FROM min(next_attempt_at) - now()) FROM {DELIVERY} "  # noqa: S608
            f"WHERE broadcast_id = %s AND id >= %s AND id < %s AND status = {QUEUED}",
            [broadcast_id, lo, hi],
        )
        row = cursor.fetchone()
    if row is None or row[0] is None:
        return None
    return max(0.0, float(row[0]))


def broadcast_chunk_send(*, broadcast_id: int, lo: int, hi: int) -> ChunkReport:
    """Sends the due queued recipients of ids [lo, hi) of a running broadcast.

    Call outside any transaction (the sends must not hold one). Safe to run twice or
    concurrently: only rows this run claimed are sent and recorded. `retry_in` tells the
    caller when the range has recipients waiting for a retry.
    """
    report = ChunkReport()
    broadcast = Broadcast.objects.select_related("template", "phone_number").filter(pk=broadcast_id).first()
    if broadcast is None or broadcast.status != Broadcast.Status.RUNNING:
        return report
    in_canary = broadcast.phase in (Broadcast.Phase.CANARY, Broadcast.Phase.CANARY_HOLD)
    if in_canary and broadcast.canary_end_id:
        hi = min(hi, broadcast.canary_end_id)  # a range past the canary waits for its verdict
    token = random.getrandbits(62)
    with transaction.atomic():
        rows = _claim(broadcast, lo, hi, token)
        sending = [(r[0], r[1]) for r in rows if r[2] == SENDING]
        # The verify link (docs/identity.md): one signed token per chunk, on message and request alike.
        link = verification.verify_link_payload(
            company=getattr(connection, "tenant", None),
            phone=broadcast.phone_number.display_number,
            buttons=broadcast.template.buttons,
        )
        chunk = _chunk_prepare(broadcast, sending, link) if sending else None
    report.claimed = len(rows)
    report.skipped = len(rows) - len(sending)
    if chunk is None:
        report.retry_in = _next_due_in(broadcast_id, lo, hi)
        if in_canary:
            breaker.canary_progress(broadcast_id=broadcast_id)
        return report
    attempts = {r[0]: r[3] for r in rows}
    phone = {r[0]: r[4] for r in rows}
    template = broadcast.template
    body_template: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "type": "template",
        "template": {"name": template.name, "language": {"code": template.language, "policy": "deterministic"}},
    }
    if broadcast.template_parameters:
        body_template["template"]["components"] = [
            {"type": "body", "parameters": template_parameters_list(broadcast.template_parameters)}
        ]
    if link:
        body_template["template"].setdefault("components", []).append(
            {"type": "button", "sub_type": "url", "index": str(link["verify_button"]["index"]),
             "parameters": [{"type": "text", "text": link["verify_button"]["suffix"]}]}
        )  # fmt: skip
    number = broadcast.phone_number
    job = bulk.BulkJob(
        phone_number_id=number.phone_number_id,
        access_token=number.access_token,
        body_template=body_template,
        items=[
            bulk.BulkItem(did, phone[did], chunk.public_id_of[did], chunk.body_parameters_of.get(did))
            for did, _ in sending
        ],
        rate=number_rate(number),
        concurrency=int(conf("BROADCAST_CONCURRENCY")),
        # A crash repeats at most the sends in flight plus two batches not yet written back.
        unrecorded_max=2 * int(conf("BROADCAST_FLUSH_SIZE")),
    )
    bulk.bulk_sender_get().start(job)
    _drain(broadcast, token, job, attempts, report, chunk)
    due = _next_due_in(broadcast_id, lo, hi)
    report.retry_in = due if report.retry_in is None or due is None else min(report.retry_in, due)
    if in_canary:
        breaker.canary_progress(broadcast_id=broadcast_id)  # the canary's last chunk starts the hold
    return report


def _drain(
    broadcast: Broadcast, token: int, job: bulk.BulkJob, attempts: dict[int, int], report: ChunkReport, chunk: _Chunk
) -> None:
    """Reads the job's results, flushing in batches; stops the job on pause/cancel."""
    flush_size = int(conf("BROADCAST_FLUSH_SIZE"))
    flush_every = float(conf("BROADCAST_FLUSH_SECONDS"))
    lease = int(conf("BROADCAST_LEASE_SECONDS"))
    expected = len(job.items)
    seen = 0
    buffer: list[bulk.BulkResult] = []
    sender = bulk.bulk_sender_get()
    last_flush = last_renew = time.monotonic()
    while seen < expected:
        try:
            result = job.results.get(timeout=flush_every)
            buffer.append(result)
            seen += 1
        except queue.Empty:
            if job.done.is_set() and job.results.empty():
                break
        clock = time.monotonic()
        if buffer and (len(buffer) >= flush_size or clock - last_flush >= flush_every or seen >= expected):
            status = _flush(broadcast, token, buffer, attempts, report, chunk)
            job.recorded += len(buffer)  # lets the sender go on (BulkJob.unrecorded_max)
            sender.results_recorded(job, buffer)  # committed: the sandbox plays its status webhooks
            buffer = []
            last_flush = clock
            if status != Broadcast.Status.RUNNING:
                job.stop.set()
        if clock - last_renew >= lease / 3 and seen < expected:
            _lease_renew(broadcast.pk, token)
            last_renew = clock
    if buffer:
        _flush(broadcast, token, buffer, attempts, report, chunk)
        sender.results_recorded(job, buffer)


# --- pause, resume, cancel ---------------------------------------------------------------------


@transaction.atomic
def broadcast_pause(*, broadcast: Broadcast, reason: str = "") -> Broadcast:
    """Running → paused. Chunks stop within one batch and put unsent rows back in the queue."""
    broadcast = _locked(broadcast)
    if broadcast.status != Broadcast.Status.RUNNING:
        raise BroadcastStateError(STATE_CONFLICT.format(status=broadcast.status, action="paused"))
    broadcast.status = Broadcast.Status.PAUSED
    broadcast.paused_reason = reason[:255]
    broadcast.paused_code = Broadcast.PausedCode.MANUAL
    broadcast.save(update_fields=["status", "paused_reason", "paused_code", "updated_at"])
    return broadcast


@transaction.atomic
def broadcast_resume(*, broadcast: Broadcast) -> Broadcast:
    """Paused → running; queued rows are dispatched again.

    Whatever paused it (a person, the circuit breaker, a failed canary): one call goes on.
    The breaker's sample restarts at the dispatch cursor, so the failures that tripped it
    do not trip it again at once. Raises TemplateNotApprovedError while the template is
    not approved (every send would be refused).
    """
    broadcast = _locked(broadcast)
    if broadcast.status != Broadcast.Status.PAUSED:
        raise BroadcastStateError(STATE_CONFLICT.format(status=broadcast.status, action="resumed"))
    template = broadcast.template
    if template.status != Template.Status.APPROVED:
        raise TemplateNotApprovedError(NOT_APPROVED.format(name=template.name, language=template.language))
    broadcast.status = Broadcast.Status.RUNNING
    broadcast.paused_reason = ""
    broadcast.paused_code = ""
    broadcast.throttled_since = None
    broadcast.breaker_from_id = broadcast.dispatch_cursor
    broadcast.heartbeat_at = timezone.now()
    broadcast.save(
        update_fields=[
            "status", "paused_reason", "paused_code", "throttled_since", "breaker_from_id", "heartbeat_at",
            "updated_at",
        ]
    )  # fmt: skip
    _redispatch_queued(broadcast)
    tasks.broadcast_dispatch_task.delay_on_commit(broadcast.pk, conf("BROADCAST_WINDOW"))
    return broadcast


@transaction.atomic
def broadcast_cancel(*, broadcast: Broadcast) -> Broadcast:
    """Stops for good: queued recipients become skipped now, sending ones within one batch.

    The queued rows are taken before the broadcast's row, the lock order of every path that
    writes both (claim, flush, sweeper, erasure), so a cancel cannot deadlock a chunk; a
    refused cancel rolls the skips back.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {DELIVERY} SET status = {SKIPPED}, skip_reason = 'cancelled', parameters = NULL "  # noqa: S608
            f"WHERE broadcast_id = %s AND status = {QUEUED}",
            [broadcast.pk],
        )
        skipped = cursor.rowcount
    broadcast = _locked(broadcast)
    active = (Broadcast.Status.DRAFT, Broadcast.Status.SCHEDULED, Broadcast.Status.RUNNING, Broadcast.Status.PAUSED)
    if broadcast.status not in active:
        raise BroadcastStateError(STATE_CONFLICT.format(status=broadcast.status, action="cancelled"))
    broadcast.status = Broadcast.Status.CANCELLED
    broadcast.completed_at = timezone.now()
    broadcast.phase, broadcast.phase_until = Broadcast.Phase.NONE, None  # a canary ends with it
    broadcast.save(update_fields=["status", "completed_at", "phase", "phase_until", "updated_at"])
    if skipped:
        _remaining_move(broadcast.pk, skipped)
    broadcast.refresh_from_db()
    return broadcast


# --- sweeper --------------------------------------------------------------------------------------


def broadcast_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Beat, per company: recovers what crashed workers and lost messages left behind.

    1. starts scheduled broadcasts whose time has come (one refused for its template or the
       plan's limits fails with the reason);
    2. `sending` rows whose lease expired go back to `queued` (or `skipped` when the
       broadcast was cancelled) and their ranges are dispatched again;
    3. a running broadcast without progress for BROADCAST_QUIET_SECONDS is recounted,
       completed if nothing is left, otherwise its queued rows are dispatched again (one
       holding after its canary is quiet on purpose and left alone);
    4. canary phases move on: a finished canary starts its hold, a hold that has passed
       is judged (the rest goes out, or the broadcast pauses);
    5. the circuit breaker looks at every running broadcast's recent sample, which is how
       late `failed` status webhooks count.
    `now` may be moved ahead by tests to expire leases at once.
    """
    now = now or timezone.now()
    stats = {"started": 0, "failed": 0, "expired": 0, "redispatched": 0, "completed": 0, "canary": 0, "tripped": 0}
    for broadcast in Broadcast.objects.filter(status=Broadcast.Status.SCHEDULED, scheduled_at__lte=now):
        try:
            broadcast_start(broadcast=broadcast, now=now)
            stats["started"] += 1
        except BroadcastStateError:
            pass  # started, cancelled or edited since the query
        except (TemplateNotApprovedError, PlanLimitExceeded) as exc:
            # Its time has come and it cannot go out: it fails with the reason, shown in the
            # "why it stopped" box, instead of being tried again every sweep and going out
            # hours late once the template or the plan allows it. Nothing was snapshotted
            # (broadcast_start rolled back); a copy can be scheduled again.
            reason = f"Could not start at the scheduled time: {exc}"[:255]
            Broadcast.objects.filter(pk=broadcast.pk, status=Broadcast.Status.SCHEDULED).update(
                status=Broadcast.Status.FAILED, paused_reason=reason, completed_at=now, updated_at=now
            )
            logger.warning("scheduled broadcast %s failed to start: %s", broadcast.pk, exc)
            stats["failed"] += 1
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"""UPDATE {DELIVERY} d SET
                      status = CASE WHEN b.status = 'cancelled' THEN {SKIPPED} ELSE {QUEUED} END,
                      skip_reason = CASE WHEN b.status = 'cancelled' THEN 'cancelled' ELSE '' END,
                      lease_until = NULL, claim_token = NULL
                    FROM {BROADCAST} b
                    WHERE b.id = d.broadcast_id AND d.status = {SENDING} AND d.lease_until < %s
                    RETURNING d.broadcast_id, d.id, d.status""",  # noqa: S608
                [now],
            )
            expired = cursor.fetchall()
        stats["expired"] = len(expired)
        by_broadcast: dict[int, list[int]] = {}
        skipped: dict[int, int] = {}
        for broadcast_id, delivery_id, status in expired:
            if status == SKIPPED:
                skipped[broadcast_id] = skipped.get(broadcast_id, 0) + 1
            else:
                by_broadcast.setdefault(broadcast_id, []).append(delivery_id)
        for broadcast_id, n in skipped.items():
            _remaining_move(broadcast_id, n)
        for broadcast in Broadcast.objects.filter(pk__in=list(by_broadcast), status=Broadcast.Status.RUNNING):
            stats["redispatched"] += _redispatch_queued(broadcast, ids=by_broadcast[broadcast.pk])
    quiet_before = now - timedelta(seconds=int(conf("BROADCAST_QUIET_SECONDS")))
    quiet = Broadcast.objects.filter(status=Broadcast.Status.RUNNING, heartbeat_at__lt=quiet_before).exclude(
        phase=Broadcast.Phase.CANARY_HOLD
    )
    for broadcast in quiet:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT count(*) FROM {DELIVERY} WHERE broadcast_id = %s AND status IN ({QUEUED}, {SENDING})",  # noqa: S608
                    [broadcast.pk],
                )
                left = cursor.fetchone()[0]
            Broadcast.objects.filter(pk=broadcast.pk).update(remaining=left, heartbeat_at=now)
            if left == 0:
                stats["completed"] += int(_complete_if_done(broadcast.pk))
                continue
            stats["redispatched"] += _redispatch_queued(broadcast)
            if (broadcast.dispatch_cursor or 0) <= (broadcast.last_delivery_id or 0):
                tasks.broadcast_dispatch_task.delay_on_commit(broadcast.pk, conf("BROADCAST_WINDOW"))
    for broadcast_id in breaker.in_canary_ids():
        breaker.canary_progress(broadcast_id=broadcast_id)
    for broadcast_id in breaker.hold_passed_ids(now=now):
        stats["canary"] += breaker.canary_judge(broadcast_id=broadcast_id, now=now) is not None
    running = Broadcast.objects.filter(status=Broadcast.Status.RUNNING, phase=Broadcast.Phase.NONE)
    for broadcast_id in running.values_list("pk", flat=True):
        stats["tripped"] += breaker.check(broadcast_id=broadcast_id)
    return stats
