"""Plain dicts the inbox templates render: thread rows and timeline items.

A page renders a list of dicts several times faster than model instances (the template
engine tries item lookup first and an instance answers it with an exception), and times
are formatted here because the `date` filter costs more than the rest of a row. Text is
passed as it is: the templates escape it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from django.utils import dateformat
from django.utils.translation import gettext

from inbox.models import Message, Note, Thread

# Outbound messages whose status may still move: the page asks about them while polling.
WATCHED_STATUSES = frozenset({"queued", "unknown", "sent", "delivered"})
MEDIA_TYPES = frozenset({"document", "audio", "video", "sticker"})
TICKS = {"queued": "◷", "sent": "✓", "delivered": "✓✓", "read": "✓✓", "failed": "⚠"}
STATUS_DISPLAY = dict(Thread.Status.choices)
MESSAGE_STATUS_DISPLAY = dict(Message.Status.choices)
MESSAGE_TYPE_DISPLAY = dict(Message.Type.choices)


def sort_time(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y%m%d%H%M%S%f") if at else "99999999999999999999"


def time_iso(at: datetime | None) -> str:
    return at.astimezone(UTC).isoformat() if at else ""


def time_short(at: datetime | None) -> str:
    """As the `date:_("M j, H:i")` filter writes it, in UTC and the active language."""
    return dateformat.format(at.astimezone(UTC), gettext("M j, H:i")) if at else ""


# --- thread list rows -------------------------------------------------------------------------


def thread_rows(values: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """List rows from `selectors.thread_row_list` values."""
    rows = []
    for value in values:
        at = value["last_message_at"]
        rows.append(
            {
                "id": str(value["public_id"]),
                "sort": f"{sort_time(at)}-{value['id']:012d}",
                "name": value["contact__name"] or value["contact__profile_name"] or value["contact__phone"],
                "preview": value["last_message_preview"],
                "at_iso": time_iso(at),
                "at_text": time_short(at),
                "status": value["status"],
                "status_display": STATUS_DISPLAY.get(value["status"], value["status"]),
                "assignee": value["assignee__name"] or value["assignee__email"] or "",
                "labels": value["label_names"] or [],
                "unread": value["unread_count"],
                "csat_rating": value.get("csat_rating"),
            }
        )
    return rows


# --- the timeline: messages and notes in one ordered list --------------------------------------


def _note_item(note: Note) -> dict[str, Any]:
    return {
        "kind": "note",
        "id": str(note.public_id),
        "sort": f"{sort_time(note.created_at)}-n{note.pk:012d}",
        "author": note.author.get_short_name() if note.author else "",
        "body": note.body,
        "at_iso": time_iso(note.created_at),
        "at_text": time_short(note.created_at),
        "mentions": ", ".join(note.mention_names or ()),  # type: ignore[attr-defined]
    }


def _message_item(message: Message) -> dict[str, Any]:
    kind = message.type
    media_url = message.media_file.url if message.media_file else ""
    outbound = message.direction == Message.Direction.OUTBOUND
    return {
        "kind": "message",
        "id": str(message.public_id),
        "sort": f"{sort_time(message.created_at)}-m{message.pk:012d}",
        "direction": message.direction,
        "outbound": outbound,
        "watch": outbound and message.status in WATCHED_STATUSES,
        "sender": message.sent_by.get_short_name() if message.sent_by else "",
        "identity": (message.sender_identity or {}) if outbound else {},  # snapshot at send time
        "type": kind,
        "is_media": kind in MEDIA_TYPES,
        "type_display": MESSAGE_TYPE_DISPLAY.get(kind, kind),
        "media_url": media_url,
        "media_filename": message.media_filename,
        "media_status": message.media_status,
        "template": f"{message.template_name} ({message.template_language})" if kind == "template" else "",
        "text": message.text if kind != "unsupported" else "",
        "at_iso": time_iso(message.created_at),
        "at_text": time_short(message.created_at),
        "status": message.status,
        "status_display": MESSAGE_STATUS_DISPLAY.get(message.status, message.status),
        "tick": TICKS.get(message.status, "?"),
        "failed": message.status == Message.Status.FAILED,
        "error_title": message.error_title,
        "error_detail": message.error_detail,
        "error_code": message.error_code,
    }


def timeline(items: Iterable[Message | Note]) -> list[dict[str, Any]]:
    """Messages and notes as timeline items, oldest first."""
    rows = [_note_item(item) if isinstance(item, Note) else _message_item(item) for item in items]
    return sorted(rows, key=lambda row: row["sort"])
