"""The API objects as plain dicts (API.md), shared by the REST API and outgoing webhooks,
so an integrator sees one shape whether it polls or is called.

Callers pass objects fetched with the selectors' select_related/prefetch_related, so
building a list costs no query per row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from inbox.models import ConsentEvent, Contact, Message, Note, PhoneNumber, Template, Thread
from inbox.window import WINDOW, window_expires_at


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with `Z`, as API.md shows."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _label_names(obj: Contact | Thread) -> list[str]:
    return sorted(label.name for label in obj.labels.all())


def contact_data(contact: Contact) -> dict[str, Any]:
    return {
        "id": str(contact.public_id),
        "phone": contact.phone,
        "name": contact.display_name if contact.name or contact.profile_name else "",
        "attributes": contact.attributes,
        "labels": _label_names(contact),
        "opted_in": contact.opted_in,
        "opted_out": contact.opted_out,
        "marketing_opted_out": contact.marketing_opted_out,
        "created_at": iso(contact.created_at),
    }


def contact_brief(contact: Contact) -> dict[str, Any]:
    return {"id": str(contact.public_id), "phone": contact.phone, "name": contact.name or contact.profile_name}


def thread_data(thread: Thread) -> dict[str, Any]:
    assignee = thread.assignee
    return {
        "id": str(thread.public_id),
        "contact": contact_brief(thread.contact),
        "phone_number": {
            "id": str(thread.phone_number.public_id),
            "display_number": thread.phone_number.display_number,
        },
        "status": thread.status,
        "assignee": {"id": str(assignee.public_id), "name": assignee.get_full_name()} if assignee else None,
        "labels": _label_names(thread),
        "unread": thread.unread_count,
        "last_message_at": iso(thread.last_message_at),
        "window_expires_at": iso(window_expires_at(thread)),
        "snoozed_until": iso(thread.snoozed_until),
        "created_at": iso(thread.created_at),
        "csat_rating": thread.csat_rating,
        "csat_rated_at": iso(thread.csat_rated_at),
    }


# A page of the thread list is built from values rows, not model instances: four models
# per row (thread, contact, number, agent) plus a labels prefetch cost two thirds of the
# request (bench/inbox.py). `thread_row_data` must build exactly what `thread_data` builds
# (inbox/tests/test_api_objects.py compares the two).
THREAD_ROW_FIELDS = (
    "id",
    "public_id",
    "status",
    "unread_count",
    "last_message_at",
    "last_inbound_at",
    "snoozed_until",
    "created_at",
    "csat_rating",
    "csat_rated_at",
    "contact__public_id",
    "contact__phone",
    "contact__name",
    "contact__profile_name",
    "phone_number__public_id",
    "phone_number__display_number",
    "assignee__public_id",
    "assignee__name",
    "assignee__email",
    "label_names",
)


def thread_row_data(row: dict[str, Any]) -> dict[str, Any]:
    """`thread_data` of a `selectors.thread_row_list_api` row."""
    last_inbound = row["last_inbound_at"]
    assignee_id = row["assignee__public_id"]
    return {
        "id": str(row["public_id"]),
        "contact": {
            "id": str(row["contact__public_id"]),
            "phone": row["contact__phone"],
            "name": row["contact__name"] or row["contact__profile_name"],
        },
        "phone_number": {
            "id": str(row["phone_number__public_id"]),
            "display_number": row["phone_number__display_number"],
        },
        "status": row["status"],
        "assignee": (
            {"id": str(assignee_id), "name": row["assignee__name"] or row["assignee__email"]}
            if assignee_id is not None
            else None
        ),
        "labels": sorted(row["label_names"]),
        "unread": row["unread_count"],
        "last_message_at": iso(row["last_message_at"]),
        "window_expires_at": iso(last_inbound + WINDOW if last_inbound is not None else None),
        "snoozed_until": iso(row["snoozed_until"]),
        "created_at": iso(row["created_at"]),
        "csat_rating": row["csat_rating"],
        "csat_rated_at": iso(row["csat_rated_at"]),
    }


def message_data(message: Message) -> dict[str, Any]:
    error = None
    if message.status == Message.Status.FAILED or message.error_code is not None:
        error = {"code": message.error_code, "title": message.error_title, "detail": message.error_detail}
    template = None
    if message.type == Message.Type.TEMPLATE:
        template = {
            "name": message.template_name,
            "language": message.template_language,
            "parameters": message.template_parameters,
            "category": message.template_category,
        }
    media = None
    if message.media_id or message.media_file or message.media_status:
        media = {
            "mime_type": message.media_mime_type,
            "filename": message.media_filename,
            "caption": message.text if message.type in (Message.Type.IMAGE, Message.Type.DOCUMENT) else "",
            "status": message.media_status or None,
            "url": _media_url(message.media_file.name, message.direction, (message.payload or {}).get("link")),
        }
    sender = message.sent_by
    return {
        "id": str(message.public_id),
        "thread": str(message.thread.public_id),
        "direction": message.direction,
        "type": message.type,
        "text": message.text,
        "template": template,
        "media": media,
        "status": message.status,
        "error": error,
        "wamid": message.wamid,
        "sent_by": {"id": str(sender.public_id), "name": sender.get_full_name()} if sender else None,
        "created_at": iso(message.created_at),
        "status_at": iso(message.status_at),
        "send_at": iso(message.send_at),
    }


# A page of a thread's messages, likewise from values rows (`message_data` must agree).
MESSAGE_ROW_FIELDS = (
    "id",
    "public_id",
    "thread__public_id",
    "direction",
    "type",
    "text",
    "template_name",
    "template_language",
    "template_parameters",
    "template_category",
    "media_id",
    "media_file",
    "media_status",
    "media_mime_type",
    "media_filename",
    "payload__link",  # only the link of an outbound media message, not the whole payload
    "status",
    "error_code",
    "error_title",
    "error_detail",
    "wamid",
    "sent_by__public_id",
    "sent_by__name",
    "sent_by__email",
    "created_at",
    "status_at",
    "send_at",
)


def message_row_data(row: dict[str, Any]) -> dict[str, Any]:
    """`message_data` of a `selectors.message_row_list_for_thread` row."""
    kind = row["type"]
    error = None
    if row["status"] == Message.Status.FAILED or row["error_code"] is not None:
        error = {"code": row["error_code"], "title": row["error_title"], "detail": row["error_detail"]}
    template = None
    if kind == Message.Type.TEMPLATE:
        template = {
            "name": row["template_name"],
            "language": row["template_language"],
            "parameters": row["template_parameters"],
            "category": row["template_category"],
        }
    media = None
    if row["media_id"] or row["media_file"] or row["media_status"]:
        media = {
            "mime_type": row["media_mime_type"],
            "filename": row["media_filename"],
            "caption": row["text"] if kind in (Message.Type.IMAGE, Message.Type.DOCUMENT) else "",
            "status": row["media_status"] or None,
            "url": _media_url(row["media_file"], row["direction"], row["payload__link"]),
        }
    sender_id = row["sent_by__public_id"]
    sender = {"id": str(sender_id), "name": row["sent_by__name"] or row["sent_by__email"]} if sender_id else None
    return {
        "id": str(row["public_id"]),
        "thread": str(row["thread__public_id"]),
        "direction": row["direction"],
        "type": kind,
        "text": row["text"],
        "template": template,
        "media": media,
        "status": row["status"],
        "error": error,
        "wamid": row["wamid"],
        "sent_by": sender,
        "created_at": iso(row["created_at"]),
        "status_at": iso(row["status_at"]),
        "send_at": iso(row["send_at"]),
    }


def _media_url(file_name: str | None, direction: str, link: Any) -> str | None:
    """Our stored file's URL; else, for an outbound message sent by URL, that URL (the send's
    `media.url`, kept in its payload as `link`); else None (e.g. a download still pending)."""
    if file_name:
        return str(_media_storage().url(file_name))
    if direction == Message.Direction.OUTBOUND and isinstance(link, str) and link:
        return link
    return None


def _media_storage() -> Any:
    return Message._meta.get_field("media_file").storage  # type: ignore[attr-defined]


# --- objects of the REST API only (inbox/api/) ----------------------------------------------


def _agent_brief(agent: Any) -> dict[str, Any] | None:
    return {"id": str(agent.public_id), "name": agent.get_full_name()} if agent is not None else None


def phone_number_data(number: PhoneNumber) -> dict[str, Any]:
    """Never the access token."""
    return {
        "id": str(number.public_id),
        "phone_number_id": number.phone_number_id,
        "display_number": number.display_number,
        "created_at": iso(number.created_at),
    }


def consent_event_data(event: ConsentEvent) -> dict[str, Any]:
    return {
        "id": str(event.public_id),
        "action": event.action,
        "purpose": event.purpose,
        "source": event.source,
        "detail": event.detail,
        "recorded_by": _agent_brief(event.recorded_by),
        "created_at": iso(event.created_at),
    }


def note_data(note: Note) -> dict[str, Any]:
    return {
        "id": str(note.public_id),
        "thread": str(note.thread.public_id),
        "body": note.body,
        "author": _agent_brief(note.author),
        "mentions": [_agent_brief(agent) for agent in note.mentions.all()],
        "created_at": iso(note.created_at),
    }


def template_data(template: Template) -> dict[str, Any]:
    return {
        "id": str(template.public_id),
        "name": template.name,
        "language": template.language,
        "category": template.category,
        "header": template.header,
        "body": template.body,
        "footer": template.footer,
        "buttons": template.buttons,
        "status": template.status,
        "rejection_reason": template.rejection_reason,
        "created_at": iso(template.created_at),
        "updated_at": iso(template.updated_at),
    }
