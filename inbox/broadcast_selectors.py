"""Reads for broadcasts: the audience as SQL, dry-run counts, progress counts, API objects.

The audience is SQL over `inbox_contact c` (one statement snapshots it; see
inbox.services.broadcasts). Consent is always applied on top of the audience's scope:
opted in, not opted out, and for a marketing template not marketing-opted-out; contacts
left out are counted by reason in the dry run.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from django.db import connection

from inbox.models import Broadcast, Contact, Delivery, Label, Message, Template

CONTACT = Contact._meta.db_table
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
    raise ValueError(f"unknown audience type {kind!r}")


def audience_eligible_sql(*, marketing: bool) -> str:
    """Consent and a sendable phone, as a condition on `c`."""
    sql = f"c.opted_in AND NOT c.opted_out AND {VALID_PHONE_SQL}"
    return sql + " AND NOT c.marketing_opted_out" if marketing else sql


def broadcast_audience_counts(*, broadcast: Broadcast) -> dict[str, Any]:
    """The dry run's numbers: recipients, and contacts in scope left out, by first reason.

    `duplicate` stays 0 for contact audiences (a contact is one recipient by construction);
    it counts repeated rows of CSV audiences, which come later.
    """
    scope, params = audience_scope_sql(broadcast.audience)
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
        FROM {CONTACT} c WHERE {scope}
    """  # noqa: S608 - table names and fixed conditions only; values are parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        audience, opted_out, not_opted_in, marketing_opted_out, invalid = cursor.fetchone()
    return {
        "audience": audience,
        "excluded": {
            "opted_out": opted_out,
            "not_opted_in": not_opted_in,
            "marketing_opted_out": marketing_opted_out,
            "invalid_phone": invalid,
            "duplicate": 0,
        },
    }


def broadcast_counts(*, broadcast: Broadcast) -> dict[str, int]:
    """Each recipient once, in its current state (API.md): a sent delivery counts by its
    message's status (sent/unknown → sent, delivered, read, or a late failure → failed)."""
    counts = dict.fromkeys(("queued", "sending", "sent", "delivered", "read", "failed", "skipped"), 0)
    sql = f"""
        SELECT d.status, m.status, count(*)
        FROM {DELIVERY} d LEFT JOIN {MESSAGE} m ON m.id = d.message_id AND d.status = {Delivery.Status.SENT}
        WHERE d.broadcast_id = %s GROUP BY 1, 2
    """  # noqa: S608 - table names only
    names = {
        Delivery.Status.QUEUED: "queued",
        Delivery.Status.SENDING: "sending",
        Delivery.Status.FAILED: "failed",
        Delivery.Status.SKIPPED: "skipped",
    }
    by_message = {"delivered": "delivered", "read": "read", "failed": "failed"}
    with connection.cursor() as cursor:
        cursor.execute(sql, [broadcast.pk])
        for status, message_status, n in cursor.fetchall():
            key = by_message.get(message_status, "sent") if status == Delivery.Status.SENT else names[status]
            counts[key] += n
    counts["total"] = broadcast.total
    return counts


def broadcast_get(*, public_id: UUID | str) -> Broadcast:
    """The broadcast of the current company (raises Broadcast.DoesNotExist)."""
    return Broadcast.objects.select_related("template", "phone_number").get(public_id=public_id)


def broadcast_list() -> list[Broadcast]:
    return list(Broadcast.objects.select_related("template", "phone_number").order_by("-created_at", "-id"))


def broadcast_data(broadcast: Broadcast) -> dict[str, Any]:
    """The API object (API.md, Broadcasts)."""
    return {
        "id": str(broadcast.public_id),
        "name": broadcast.name,
        "status": broadcast.status,
        "paused_reason": broadcast.paused_reason,
        "counts": broadcast_counts(broadcast=broadcast),
        "started_at": broadcast.started_at,
        "completed_at": broadcast.completed_at,
    }
