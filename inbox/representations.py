"""The API objects as plain dicts (API.md), shared by the REST API and outgoing webhooks,
so an integrator sees one shape whether it polls or is called.

Callers pass objects fetched with the selectors' select_related/prefetch_related, so
building a list costs no query per row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from inbox.models import ConsentEvent, Contact, Message, Note, PhoneNumber, Template, Thread
from inbox.window import window_expires_at


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
            "url": message.media_file.url if message.media_file else None,
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
    }


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
