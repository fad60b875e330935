"""Reads for broadcasts: the audience as SQL, dry-run counts, progress counts, API objects.

The audience is SQL over `inbox_contact c` (one statement snapshots it; see
inbox.services.broadcasts). Consent is always applied on top of the audience's scope:
opted in, not opted out, and for a marketing template not marketing-opted-out; contacts
left out are counted by reason in the dry run.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from inbox.models import (
    AudienceUpload,
    AudienceUploadRow,
    Broadcast,
    Contact,
    Delivery,
    Label,
    Message,
    PhoneNumber,
    Template,
)
from inbox.representations import iso
from inbox.selectors import phone_number_list_connected

CONTACT = Contact._meta.db_table
UPLOAD_ROW = AudienceUploadRow._meta.db_table
DELIVERY = Delivery._meta.db_table
MESSAGE = Message._meta.db_table
LABEL = Label._meta.db_table
CONTACT_LABELS = Contact.labels.through._meta.db_table
# E.164: "+", a non-zero country digit, 7 to 15 digits in all.
VALID_PHONE_SQL = r"c.phone ~ '^\+[1-9][0-9]{6,14}$'"
EXCLUSION_REASONS = ("opted_out", "not_opted_in", "marketing_opted_out", "invalid_phone", "duplicate")


def broadcast_is_marketing(broadcast: Broadcast) -> bool:
    return broadcast.template.category == Template.Category.MARKETING


def audience_scope_sql(audience: dict[str, Any]) -> tuple[str, list[Any]]:
    """The audience's scope as a condition on `c` (contacts), before consent; with its parameters.

    Precondition: `audience` passed broadcast_create's validation.
    """
    kind = audience.get("type", Broadcast.AudienceType.ALL)
    if kind == Broadcast.AudienceType.ALL:
        return "TRUE", []
    if kind == Broadcast.AudienceType.LABELS:
        sql = (
            f"EXISTS (SELECT 1 FROM {CONTACT_LABELS} cl JOIN {LABEL} l ON l.id = cl.label_id"  # noqa: S608
            " WHERE cl.contact_id = c.id AND l.name = ANY(%s))"
        )
        return sql, [list(audience.get("labels") or [])]
    if kind == Broadcast.AudienceType.FILTER:
        return "c.attributes @> %s::jsonb", [json.dumps(audience.get("filter") or {})]
    if kind == Broadcast.AudienceType.BROADCAST:
        read_filter = ""
        if audience.get("only_unread"):
            read_filter = f" AND NOT EXISTS (SELECT 1 FROM {MESSAGE} m WHERE m.id = d.message_id AND m.status = 'read')"  # noqa: S608
        sql = (
            f"EXISTS (SELECT 1 FROM {DELIVERY} d WHERE d.broadcast_id = %s AND d.contact_id = c.id"  # noqa: S608
            f" AND d.status = {Delivery.Status.SENT}{read_filter})"
        )
        return sql, [int(audience["broadcast"])]
    if kind == Broadcast.AudienceType.CSV:
        sql = f"EXISTS (SELECT 1 FROM {UPLOAD_ROW} r WHERE r.upload_id = %s AND r.contact_id = c.id)"  # noqa: S608
        return sql, [int(audience["upload"])]
    raise ValueError(f"unknown audience type {kind!r}")


def audience_from_sql(audience: dict[str, Any]) -> tuple[str, str, list[Any]]:
    """(FROM clause, condition, parameters) of the audience for the snapshot.

    A CSV audience is its upload's rows `r` (unique per phone, so one row per contact),
    each with its contact `c`; per-recipient parameters read the columns from `r`. The
    others are `inbox_contact c` with audience_scope_sql's condition. Parameters are in
    text order.
    """
    if audience.get("type") == Broadcast.AudienceType.CSV:
        # Rows drive, each contact fetched by primary key: right after a large import the
        # statistics are stale, and a planner left free may walk the upload's rows once per
        # contact (minutes for 200k). OFFSET 0 keeps the subquery from being flattened.
        lateral = f"(SELECT * FROM {CONTACT} c0 WHERE c0.id = r.contact_id OFFSET 0)"  # noqa: S608 - table names
        return (
            f"{UPLOAD_ROW} r CROSS JOIN LATERAL {lateral} c",
            "r.upload_id = %s",
            [int(audience["upload"])],
        )
    scope, params = audience_scope_sql(audience)
    return f"{CONTACT} c", scope, params


# --- per-recipient template parameters ------------------------------------------------------
#
# A parameter is fixed text, or a reference resolved per recipient by the snapshot
# (docs/broadcasts.md, "Per-recipient parameters"):
#   {"contact": "name"}   the contact's name (else its WhatsApp profile name)
#   {"contact": "phone"}  the contact's E.164 number
#   {"contact": "<attr>"} any other name: the contact's attribute of that name
#   {"column": "<name>"}  the CSV column of that name (CSV audiences only)
# each with an optional "default" used when the value is missing or empty.

CONTACT_FIELD_SQL = {
    "name": "COALESCE(NULLIF(c.name, ''), NULLIF(c.profile_name, ''))",
    "phone": "c.phone",
}
REFERENCE_KEYS = ("contact", "column")


def parameter_is_reference(value: Any) -> bool:
    return isinstance(value, dict) and any(key in value for key in REFERENCE_KEYS)


def parameters_are_personal(parameters: Any) -> bool:
    """Whether any parameter names a contact field or CSV column (then each delivery gets its own)."""
    values = parameters.values() if isinstance(parameters, dict) else parameters or []
    return any(parameter_is_reference(value) for value in values)


def _parameter_sql(value: Any) -> tuple[str, list[Any]]:
    if not parameter_is_reference(value):
        return "%s::text", [str(value)]
    default = str(value.get("default") or "")
    if "column" in value:
        return "COALESCE(NULLIF(r.variables->>%s, ''), %s)", [str(value["column"]), default]
    name = str(value["contact"])
    if name in CONTACT_FIELD_SQL:
        return f"COALESCE({CONTACT_FIELD_SQL[name]}, %s)", [default]
    return "COALESCE(NULLIF(c.attributes->>%s, ''), %s)", [name, default]


def parameters_sql(parameters: Any) -> tuple[str, list[Any]]:
    """The recipient's parameters as one jsonb expression over `c` (and `r` for CSV columns):
    a list stays a list (positional), an object an object (named). Precondition: validated
    by broadcast_create."""
    parts: list[str] = []
    params: list[Any] = []
    if isinstance(parameters, dict):
        for key, value in parameters.items():
            sql, values = _parameter_sql(value)
            parts.append(f"%s::text, {sql}")
            params += [str(key), *values]
        return f"jsonb_build_object({', '.join(parts)})", params
    for value in parameters or []:
        sql, values = _parameter_sql(value)
        parts.append(sql)
        params += values
    return f"jsonb_build_array({', '.join(parts)})", params


def parameters_placeholder(parameters: Any) -> Any:
    """The parameters with each reference shown as `{name}`: for previews of the template."""

    def shown(value: Any) -> Any:
        if not parameter_is_reference(value):
            return value
        return "{" + str(value.get("column") or value.get("contact")) + "}"

    if isinstance(parameters, dict):
        return {key: shown(value) for key, value in parameters.items()}
    return [shown(value) for value in parameters or []]


def audience_eligible_sql(*, marketing: bool) -> str:
    """Consent and a sendable phone, as a condition on `c`."""
    sql = f"c.opted_in AND NOT c.opted_out AND {VALID_PHONE_SQL}"
    return sql + " AND NOT c.marketing_opted_out" if marketing else sql


def broadcast_audience_counts(*, broadcast: Broadcast) -> dict[str, Any]:
    """The dry run's numbers: recipients, and contacts in scope left out, by first reason.

    `duplicate` stays 0 for contact audiences (a contact is one recipient by construction);
    for a CSV audience it counts the file's lines repeating an earlier line's phone, and
    `invalid_phone` adds the lines whose phone could not be read (both left out at upload).
    """
    source, scope, params = audience_from_sql(broadcast.audience)
    marketing = broadcast_is_marketing(broadcast)
    marketing_cond = "c.marketing_opted_out" if marketing else "FALSE"
    sql = f"""
        SELECT
          count(*) FILTER (WHERE {audience_eligible_sql(marketing=marketing)}),
          count(*) FILTER (WHERE c.opted_out),
          count(*) FILTER (WHERE NOT c.opted_out AND NOT c.opted_in),
          count(*) FILTER (WHERE c.opted_in AND NOT c.opted_out AND {marketing_cond}),
          count(*) FILTER (WHERE c.opted_in AND NOT c.opted_out AND NOT {marketing_cond}
                           AND NOT ({VALID_PHONE_SQL}))
        FROM {source} WHERE {scope}
    """  # noqa: S608 - table names and fixed conditions only; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        audience, opted_out, not_opted_in, marketing_opted_out, invalid = cursor.fetchone()
    duplicate = 0
    if broadcast.audience.get("type") == Broadcast.AudienceType.CSV:
        upload = AudienceUpload.objects.filter(pk=broadcast.audience.get("upload")).first()
        if upload is not None:
            invalid += upload.invalid_phone_count
            duplicate = upload.duplicate_count
    return {
        "audience": audience,
        "excluded": {
            "opted_out": opted_out,
            "not_opted_in": not_opted_in,
            "marketing_opted_out": marketing_opted_out,
            "invalid_phone": invalid,
            "duplicate": duplicate,
        },
    }


COUNT_KEYS = ("queued", "sending", "sent", "delivered", "read", "failed", "skipped")


def broadcast_counts_many(*, broadcasts: list[Broadcast]) -> dict[int, dict[str, int]]:
    """broadcast_counts of several broadcasts in one statement: {broadcast pk: counts}.

    One aggregate with a FILTER per state (the same rules as the recipients' filter,
    _RECIPIENT_STATE_SQL) over the broadcasts' deliveries, each sent one joined to its
    message by primary key. Cost: linear in the recipients (an index range on
    (broadcast, contact) plus one message lookup per sent recipient), no Python work
    per recipient; callers polling a large running broadcast use broadcast_counts_cached.
    """
    found: dict[int, dict[str, int]] = {b.pk: {**dict.fromkeys(COUNT_KEYS, 0), "total": b.total} for b in broadcasts}
    if not found:
        return found
    filters = ", ".join(f"count(*) FILTER (WHERE {_RECIPIENT_STATE_SQL[key]})" for key in COUNT_KEYS)
    sql = f"""
        SELECT d.broadcast_id, {filters}
        FROM {DELIVERY} d LEFT JOIN {MESSAGE} m ON m.id = d.message_id AND d.status = {Delivery.Status.SENT}
        WHERE d.broadcast_id = ANY(%s) GROUP BY 1
    """  # noqa: S608 - table names and fixed conditions only
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(found)])
        for broadcast_id, *numbers in cursor.fetchall():
            found[broadcast_id].update(zip(COUNT_KEYS, numbers, strict=True))
    return found


def broadcast_counts(*, broadcast: Broadcast) -> dict[str, int]:
    """Each recipient once, in its current state (API.md), so the counts add up to `total`:
    a sent delivery counts by its message's status (sent/unknown → sent, delivered, read,
    or a late failure → failed); a read message counts only as read."""
    return broadcast_counts_many(broadcasts=[broadcast])[broadcast.pk]


def broadcast_get(*, public_id: UUID | str) -> Broadcast:
    """The broadcast of the current company (raises Broadcast.DoesNotExist)."""
    return Broadcast.objects.select_related("template", "phone_number").get(public_id=public_id)


def broadcast_get_or_404(*, public_id: UUID | str) -> Broadcast:
    """The broadcast of the current company; Http404 for an unknown id (another company's
    broadcast lives in another schema, so it is unknown here too)."""
    broadcast = broadcast_queryset().filter(public_id=public_id).first()
    if broadcast is None:
        raise Http404("Not found.")
    return broadcast


def template_find(*, name: str, language: str) -> Template | None:
    """The template of this name and language, in any status (a broadcast needs it approved)."""
    return Template.objects.filter(name=name, language=language).first()


def phone_number_default(*, company: Any) -> PhoneNumber | None:
    """The number a broadcast without `from` is sent from: the company's first connected one
    (the same rule as a single message's default)."""
    return phone_number_list_connected(company=company).order_by("id").first()


def broadcast_queryset() -> QuerySet[Broadcast]:
    return Broadcast.objects.select_related("template", "phone_number")


def broadcast_list() -> list[Broadcast]:
    return list(broadcast_queryset().order_by("-created_at", "-id"))


def _audience_data(audience: dict[str, Any]) -> dict[str, Any]:
    """The stored audience as the API shows it: public ids, no internal keys."""
    data = {key: value for key, value in audience.items() if key not in ("broadcast", "upload", "broadcast_id")}
    if audience.get("type") == Broadcast.AudienceType.BROADCAST:
        source = audience.get("broadcast_id")
        if source is None:  # stored before the public id was kept alongside the pk
            found = Broadcast.objects.filter(pk=audience.get("broadcast")).values_list("public_id", flat=True).first()
            source = str(found) if found else None
        data["broadcast"] = source
    return data


def broadcast_data(broadcast: Broadcast, *, counts: dict[str, int] | None = None) -> dict[str, Any]:
    """The API object (API.md, Broadcasts), also the `data` of `broadcast.completed`.

    `counts` may be given when the caller read several broadcasts' counts at once.
    """
    return {
        "id": str(broadcast.public_id),
        "name": broadcast.name,
        "status": broadcast.status,
        "paused_reason": broadcast.paused_reason,
        "paused_code": broadcast.paused_code,
        "phase": broadcast.phase,
        "phase_detail": broadcast_phase_text(broadcast),
        "canary": broadcast_canary_data(broadcast),
        "failure_threshold": broadcast.failure_threshold,
        "counts": counts if counts is not None else broadcast_counts(broadcast=broadcast),
        "started_at": iso(broadcast.started_at),
        "completed_at": iso(broadcast.completed_at),
        "template": {
            "id": str(broadcast.template.public_id),
            "name": broadcast.template.name,
            "language": broadcast.template.language,
            "category": broadcast.template.category,
        },
        "parameters": broadcast.template_parameters,
        "from": str(broadcast.phone_number.public_id),
        "audience": _audience_data(broadcast.audience or {}),
        "scheduled_at": iso(broadcast.scheduled_at),
        "created_at": iso(broadcast.created_at),
    }


def broadcast_recipient_queryset(*, broadcast: Broadcast, status: str | None = None) -> QuerySet[Delivery]:
    """The API's recipients of a broadcast in delivery order, optionally in one current
    state (RECIPIENT_STATUSES, same rules as the counts). Bounded to the snapshot's id
    range, so keyset pages scan only this broadcast's rows."""
    qs = Delivery.objects.filter(broadcast=broadcast).select_related("message").prefetch_related("contact")
    if broadcast.first_delivery_id is None or broadcast.last_delivery_id is None:
        return qs.none()
    qs = qs.filter(id__gte=broadcast.first_delivery_id, id__lte=broadcast.last_delivery_id)
    sent = Q(status=Delivery.Status.SENT)
    final_message = ("delivered", "read", "failed")
    states = {
        "queued": Q(status=Delivery.Status.QUEUED),
        "sending": Q(status=Delivery.Status.SENDING),
        "sent": sent & (Q(message__isnull=True) | ~Q(message__status__in=final_message)),
        "delivered": sent & Q(message__status="delivered"),
        "read": sent & Q(message__status="read"),
        "failed": Q(status=Delivery.Status.FAILED) | (sent & Q(message__status="failed")),
        "skipped": Q(status=Delivery.Status.SKIPPED),
    }
    return qs.filter(states[status]) if status else qs


def recipient_state(delivery: Delivery) -> str:
    """A recipient's current state (RECIPIENT_STATUSES) from its delivery and message."""
    if delivery.status != Delivery.Status.SENT:
        return {
            Delivery.Status.QUEUED: "queued",
            Delivery.Status.SENDING: "sending",
            Delivery.Status.FAILED: "failed",
            Delivery.Status.SKIPPED: "skipped",
        }[delivery.status]
    message_status = delivery.message.status if delivery.message else None
    return message_status if message_status in ("delivered", "read", "failed") else "sent"


def recipient_data(delivery: Delivery) -> dict[str, Any]:
    """One recipient as the API shows it (API.md: contact {id, phone}, status, error, wamid, sent_at)."""
    message = delivery.message
    try:
        contact: Contact | None = delivery.contact
    except Contact.DoesNotExist:  # deleted since the snapshot; the ledger row stays
        contact = None
    code = delivery.error_code if delivery.error_code is not None else (message.error_code if message else None)
    title = delivery.error_title or (message.error_title if message else "")
    state = recipient_state(delivery)
    error = None
    if state == "failed" or code is not None:
        error = {"code": code, "title": title, "detail": message.error_detail if message else ""}
    return {
        "contact": {"id": str(contact.public_id), "phone": contact.phone} if contact else None,
        "status": state,
        "skip_reason": delivery.skip_reason or None,
        "error": error,
        "message": str(message.public_id) if message else None,
        "wamid": message.wamid if message else None,
        "sent_at": iso(delivery.sent_at or (message.sent_at if message else None)),
    }


# --- the browser pages (inbox/views_broadcasts.py): list, progress, failures, recipients -------

RECIPIENT_STATUSES = ("queued", "sending", "sent", "delivered", "read", "failed", "skipped")
# A recipient's current state (API.md: each counted once), as SQL over `d` (delivery) and
# `m` (its message, joined only for sent deliveries): the same rule as broadcast_counts.
_RECIPIENT_STATE_SQL = {
    "queued": f"d.status = {Delivery.Status.QUEUED}",
    "sending": f"d.status = {Delivery.Status.SENDING}",
    "sent": (
        f"d.status = {Delivery.Status.SENT} AND (m.status IS NULL OR m.status NOT IN ('delivered', 'read', 'failed'))"
    ),
    "delivered": f"d.status = {Delivery.Status.SENT} AND m.status = 'delivered'",
    "read": f"d.status = {Delivery.Status.SENT} AND m.status = 'read'",
    "failed": f"(d.status = {Delivery.Status.FAILED} OR (d.status = {Delivery.Status.SENT} AND m.status = 'failed'))",
    "skipped": f"d.status = {Delivery.Status.SKIPPED}",
}
_RECIPIENT_STATE_CASE = (
    "CASE "
    + " ".join(f"WHEN {cond} THEN '{name}'" for name, cond in _RECIPIENT_STATE_SQL.items() if name != "sent")
    + " ELSE 'sent' END"
)
# Counting a million-recipient broadcast joins a million messages: large broadcasts'
# counts are reused for a few seconds (the progress bar itself reads `remaining`, exact).
COUNTS_CACHE_FROM = 20_000
RATE_WINDOW_SECONDS = 10.0


def broadcast_list_page(
    *, status: str | None = None, after: tuple[Any, int] | None = None, size: int = 25
) -> list[Broadcast]:
    """Newest first, `size + 1` rows (one more tells the caller a next page exists).

    `after` is the (created_at, id) of the previous page's last row (keyset paging).
    """
    from django.db.models import Q

    qs = Broadcast.objects.select_related("template", "phone_number").order_by("-created_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if after is not None:
        at, pk = after
        qs = qs.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
    return list(qs[: size + 1])


def broadcast_source_list() -> list[Broadcast]:
    """Broadcasts a follow-up can go to the recipients of: the ones that started sending."""
    return list(Broadcast.objects.filter(started_at__isnull=False).order_by("-started_at", "-id")[:200])


def broadcast_counts_cached(*, broadcast: Broadcast) -> dict[str, int]:
    """broadcast_counts, reused for a few seconds once a broadcast is large (see COUNTS_CACHE_FROM)."""
    from django.core.cache import cache

    if broadcast.total < COUNTS_CACHE_FROM or broadcast.status not in (
        Broadcast.Status.RUNNING,
        Broadcast.Status.PAUSED,
    ):
        return broadcast_counts(broadcast=broadcast)
    key = f"broadcast-counts:{broadcast.pk}"
    counts = cache.get(key)
    if counts is None:
        counts = broadcast_counts(broadcast=broadcast)
        cache.set(key, counts, timeout=min(15, 2 + broadcast.total // 100_000))
    return counts


def broadcast_send_rate(*, broadcast: Broadcast, now: Any = None) -> float | None:
    """Recipients finished per second over about the last RATE_WINDOW_SECONDS, from samples
    of `total - remaining` that each look at the progress leave in the cache; until two
    samples exist, the average since the start. None when nothing can be said yet."""
    from django.core.cache import cache
    from django.utils import timezone

    now = now or timezone.now()
    done = broadcast.total - broadcast.remaining
    key = f"broadcast-rate:{broadcast.pk}"
    t = now.timestamp()
    samples = [s for s in (cache.get(key) or []) if t - s[0] <= 3 * RATE_WINDOW_SECONDS and s[0] < t]
    samples.append((t, done))
    cache.set(key, samples[-30:], timeout=int(6 * RATE_WINDOW_SECONDS))
    window = [s for s in samples if t - s[0] <= RATE_WINDOW_SECONDS]
    oldest = window[0]
    if t - oldest[0] >= 1.0:
        return max(0.0, (done - oldest[1]) / (t - oldest[0]))
    if broadcast.started_at is not None and (t - broadcast.started_at.timestamp()) >= 1.0:
        return done / (t - broadcast.started_at.timestamp())
    return None


def broadcast_failure_list(*, broadcast: Broadcast) -> list[dict[str, Any]]:
    """Failed recipients grouped by error code (refused at send, or failed after it), most first."""
    sql = f"""
        SELECT COALESCE(d.error_code, m.error_code), max(COALESCE(NULLIF(d.error_title, ''), m.error_title, '')),
               count(*)
        FROM {DELIVERY} d LEFT JOIN {MESSAGE} m ON m.id = d.message_id AND d.status = {Delivery.Status.SENT}
        WHERE d.broadcast_id = %s AND {_RECIPIENT_STATE_SQL["failed"]}
        GROUP BY 1 ORDER BY 3 DESC, 1
    """  # noqa: S608 - table names and fixed conditions only
    with connection.cursor() as cursor:
        cursor.execute(sql, [broadcast.pk])
        rows = cursor.fetchall()
    return [{"code": code, "title": title, "count": n} for code, title, n in rows]


def _recipient_sql(*, status: str | None, limit: bool) -> str:
    where = f" AND {_RECIPIENT_STATE_SQL[status]}" if status else ""
    return f"""
        SELECT d.id, c.phone, COALESCE(NULLIF(c.name, ''), c.profile_name, ''), {_RECIPIENT_STATE_CASE},
               m.status, COALESCE(d.error_code, m.error_code), COALESCE(NULLIF(d.error_title, ''), m.error_title, ''),
               m.wamid, COALESCE(d.sent_at, m.sent_at), c.public_id, d.status, d.skip_reason
        FROM {DELIVERY} d
        LEFT JOIN {CONTACT} c ON c.id = d.contact_id
        LEFT JOIN {MESSAGE} m ON m.id = d.message_id AND d.status = {Delivery.Status.SENT}
        WHERE d.broadcast_id = %s AND d.id > %s AND d.id <= %s{where}
        ORDER BY d.id{" LIMIT %s" if limit else ""}
    """  # noqa: S608 - table names and fixed conditions only; values are parameters


_RECIPIENT_KEYS = (
    "id",
    "phone",
    "name",
    "status",
    "message_status",
    "error_code",
    "error_title",
    "wamid",
    "sent_at",
    "contact_id",
    "delivery_status",
    "skip_reason",
)


def broadcast_recipient_page(
    *, broadcast: Broadcast, status: str | None = None, after: int | None = None, size: int = 50
) -> list[dict[str, Any]]:
    """Recipients in delivery order, `size + 1` rows after the delivery id `after` (keyset).

    `status` is one of RECIPIENT_STATUSES (the recipient's current state). Delivery ids of
    a broadcast are one dense range, so the scan stays inside it.
    """
    if broadcast.first_delivery_id is None or broadcast.last_delivery_id is None:
        return []
    low = max(after or 0, broadcast.first_delivery_id - 1)
    with connection.cursor() as cursor:
        cursor.execute(
            _recipient_sql(status=status, limit=True), [broadcast.pk, low, broadcast.last_delivery_id, size + 1]
        )
        return [dict(zip(_RECIPIENT_KEYS, row, strict=True)) for row in cursor.fetchall()]


def broadcast_recipient_iter(*, broadcast: Broadcast, batch: int = 2000) -> Any:
    """Every recipient in delivery order, read in keyset pages of `batch` rows: memory stays
    flat whatever the audience (the CSV export streams from this)."""
    after = 0
    while True:
        rows = broadcast_recipient_page(broadcast=broadcast, after=after, size=batch - 1)
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1]["id"]


def broadcast_source_get(*, pk: Any) -> Broadcast | None:
    """The broadcast a follow-up's audience names (by its internal id), if it still exists."""
    return Broadcast.objects.filter(pk=pk).first() if isinstance(pk, int) else None


# --- canary and circuit breaker (inbox/services/broadcast_breaker.py) ---------------------------


def broadcast_canary_size(broadcast: Broadcast, total: int) -> int:
    """Recipients in the canary for an audience of `total` (0: no canary; 1 % is at least one)."""
    if broadcast.canary_count:
        return min(broadcast.canary_count, total)
    if broadcast.canary_percent:
        return min(total, max(1, math.ceil(total * float(broadcast.canary_percent) / 100)))
    return 0


def broadcast_canary_data(broadcast: Broadcast) -> dict[str, Any] | None:
    """The canary as asked for (`count` or `percent`, `hold_seconds`), with its size once started."""
    if not broadcast.canary_count and not broadcast.canary_percent:
        return None
    data: dict[str, Any] = (
        {"count": broadcast.canary_count}
        if broadcast.canary_count
        else {"percent": float(broadcast.canary_percent or 0)}
    )
    data["hold_seconds"] = broadcast.canary_hold_seconds
    data["size"] = broadcast_canary_size(broadcast, broadcast.total) if broadcast.canary_end_id else None
    return data


def broadcast_phase_text(broadcast: Broadcast, *, now: datetime | None = None) -> str:
    """What a running (or paused) broadcast is in the middle of, for people; "" when it simply sends."""
    if broadcast.status not in (Broadcast.Status.RUNNING, Broadcast.Status.PAUSED):
        return ""
    if broadcast.phase == Broadcast.Phase.CANARY:
        size = broadcast_canary_size(broadcast, broadcast.total)
        return f"canary: sending to the first {size} recipient{'s' if size != 1 else ''}"
    if broadcast.phase == Broadcast.Phase.CANARY_HOLD:
        left = 0
        if broadcast.phase_until is not None:
            left = max(0, math.ceil((broadcast.phase_until - (now or timezone.now())).total_seconds()))
        return f"canary: waiting {left} s for statuses"
    return ""


def broadcast_upload_get(*, broadcast: Broadcast) -> AudienceUpload | None:
    """The CSV upload a CSV audience was made from, if it still exists."""
    pk = (broadcast.audience or {}).get("upload")
    return AudienceUpload.objects.filter(pk=pk).first() if isinstance(pk, int) else None
