"""Privacy (GDPR): export everything stored about a contact, erase a contact, purge old
message content after the company's retention period.

Erasure is irreversible by design: the personal content is overwritten in place (and media
files deleted from storage), not flagged as hidden, so neither owners nor operators can
bring it back. The thread's history keeps its shape (message rows with direction, type,
status and timestamps stay) so counts and reports remain right. The contact row becomes an
anonymous shell whose phone is `erased:<pk>`: no E.164 number can match it, so a customer
who writes again after erasure becomes a new contact (inbound matches by phone).
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import IO, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from inbox.models import (
    AudienceUploadRow,
    ConsentEvent,
    Contact,
    Delivery,
    Message,
    Note,
    PhoneNumber,
    PrivacyLog,
    Thread,
    WebhookEvent,
)
from inbox.services import broadcasts
from inbox.services import contacts as contact_services
from tenants.models import Company, ProviderEvent

logger = logging.getLogger(__name__)

ERASED_PHONE_PREFIX = "erased:"
# Delivery.skip_reason of a broadcast recipient the erasure took out of the run.
SKIP_REASON_ERASED = "erased"
RETENTION_BATCH = 500
RETENTION_MAX_DAYS = 3650
EXPORT_CHUNK = 500


def actor_label(actor: Any) -> str:
    """Who did it, readable after the user is gone: an e-mail, "API key <prefix>" or "system"."""
    if actor is None:
        return "system"
    if isinstance(actor, User):
        return actor.email
    return str(actor)[:254]


def _actor_user(actor: Any) -> User | None:
    return actor if isinstance(actor, User) else None


def require_owner(actor: Any, *, message: str) -> None:
    """Owners only. An API key (no user behind it) is made by an owner and acts with an
    owner's authority (docs/api.md "Privacy"), so it passes."""
    if isinstance(actor, User) and actor.role != User.Role.OWNER:
        raise PermissionDenied(message)


def require_manager(actor: Any, *, message: str) -> None:
    """Owners and admins only (API keys pass, as for require_owner)."""
    if isinstance(actor, User) and not actor.can_manage_team:
        raise PermissionDenied(message)


# --- export ------------------------------------------------------------------------------------


def _contact_data(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.public_id,
        "phone": contact.phone,
        "wa_id": contact.wa_id,
        "name": contact.name,
        "profile_name": contact.profile_name,
        "attributes": contact.attributes,
        "labels": sorted(label.name for label in contact.labels.all()),
        "opted_in": contact.opted_in,
        "opted_out": contact.opted_out,
        "marketing_opted_out": contact.marketing_opted_out,
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "erased_at": contact.erased_at,
    }


def _media_name(message: Message) -> str:
    base = (message.media_file.name or "").rsplit("/", 1)[-1] or "file"
    return f"media/{message.public_id}/{base}"


def _message_data(message: Message) -> dict[str, Any]:
    return {
        "id": message.public_id,
        "direction": message.direction,
        "type": message.type,
        "text": message.text,
        "payload": message.payload,
        "wamid": message.wamid,
        "context_wamid": message.context_wamid,
        "status": message.status,
        "error_code": message.error_code,
        "error_title": message.error_title,
        "error_detail": message.error_detail,
        "media_mime_type": message.media_mime_type,
        "media_filename": message.media_filename,
        "media_file": _media_name(message) if message.media_file else None,
        "template_name": message.template_name,
        "template_language": message.template_language,
        "template_parameters": message.template_parameters,
        "sent_by": message.sent_by.email if message.sent_by else None,
        "provider_timestamp": message.provider_timestamp,
        "send_at": message.send_at,
        "sent_at": message.sent_at,
        "delivered_at": message.delivered_at,
        "read_at": message.read_at,
        "created_at": message.created_at,
    }


def _dump(value: Any) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False)


def _write_list(out: IO[str], items: Iterable[dict[str, Any]]) -> None:
    out.write("[")
    for index, item in enumerate(items):
        out.write(("," if index else "") + _dump(item))
    out.write("]")


def contact_export(*, contact: Contact, actor: Any) -> IO[bytes]:
    """Everything stored about the contact as a ZIP in a temporary file (rewound; deleted on
    close): `contact.json` plus every stored media file under `media/<message id>/`.

    Messages are read in chunks and written as they come, and media files are copied in
    blocks, so a contact with years of history does not have to fit in memory.
    """
    require_owner(actor, message=_("Only owners can export a contact's data."))
    threads = list(contact.threads.select_related("phone_number", "assignee").prefetch_related("labels"))
    archive = tempfile.TemporaryFile(suffix=".zip")  # noqa: SIM115 - handed to the response, which closes it
    media: list[tuple[str, str]] = []
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("contact.json", "w", force_zip64=True) as raw:
            out = io.TextIOWrapper(raw, encoding="utf-8")
            out.write('{"exported_at": ' + _dump(timezone.now()))
            out.write(', "contact": ' + _dump(_contact_data(contact)))
            out.write(', "consent_events": ')
            _write_list(
                out,
                (
                    {
                        "action": e.action,
                        "purpose": e.purpose,
                        "source": e.source,
                        "detail": e.detail,
                        "recorded_by": e.recorded_by.email if e.recorded_by else None,
                        "created_at": e.created_at,
                    }
                    for e in contact.consent_events.select_related("recorded_by").order_by("created_at", "id")
                ),
            )
            out.write(', "threads": [')
            for index, thread in enumerate(threads):
                head = {
                    "id": thread.public_id,
                    "phone_number": thread.phone_number.display_number,
                    "status": thread.status,
                    "assignee": thread.assignee.email if thread.assignee else None,
                    "labels": sorted(label.name for label in thread.labels.all()),
                    "csat_rating": thread.csat_rating,
                    "created_at": thread.created_at,
                    "last_message_at": thread.last_message_at,
                    "resolved_at": thread.resolved_at,
                }
                out.write(("," if index else "") + _dump(head)[:-1] + ', "messages": ')
                messages = Message.objects.filter(thread=thread).select_related("sent_by").order_by("created_at", "id")

                def rows(messages: Any = messages) -> Iterable[dict[str, Any]]:
                    for message in messages.iterator(chunk_size=EXPORT_CHUNK):
                        if message.media_file:
                            media.append((message.media_file.name, _media_name(message)))
                        yield _message_data(message)

                _write_list(out, rows())
                out.write(', "notes": ')
                _write_list(
                    out,
                    (
                        {
                            "body": note.body,
                            "author": note.author.email if note.author else None,
                            "created_at": note.created_at,
                        }
                        for note in Note.objects.filter(thread=thread).select_related("author").order_by("created_at")
                    ),
                )
                out.write("}")
            out.write('], "broadcast_deliveries": ')
            _write_list(
                out,
                (
                    {
                        "broadcast": d.broadcast.name,
                        "broadcast_id": d.broadcast.public_id,
                        "status": Delivery.Status(d.status).label,
                        "skip_reason": d.skip_reason,
                        "error_code": d.error_code,
                        "parameters": d.parameters,
                        "sent_at": d.sent_at,
                    }
                    for d in Delivery.objects.filter(contact_id=contact.pk).select_related("broadcast").order_by("pk")
                ),
            )
            out.write("}")
            out.flush()
            out.detach()
        for stored_name, zip_name in media:
            try:
                with (
                    default_storage.open(stored_name, "rb") as source,
                    zf.open(zip_name, "w", force_zip64=True) as dest,
                ):
                    shutil.copyfileobj(source, dest, 1024 * 1024)
            except FileNotFoundError:
                logger.warning("export: media file of a message is missing from storage")
    archive.seek(0)
    return archive


# --- erasure -----------------------------------------------------------------------------------


def _contains(needle: bytes) -> RawSQL:
    return RawSQL("position(%s in body) > 0", (needle,), output_field=BooleanField())


def _without_customer(body: bytes, *, wa_ids: set[str], numbers: set[str]) -> bytes | None:
    """A stored webhook body without what it says about this customer to these numbers:
    their messages (text, media ids, profile) and `user_preferences` are dropped, their
    `contacts` entries (profile name) too, and delivery reports about messages to them lose
    `recipient_id` (their status still applies). Changes for other numbers — other companies'
    — stay as they are. None when there was nothing of theirs. A body that is not a webhook
    envelope cannot be processed anyway (processing records it as invalid) and is blanked."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return b""
    if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
        return b""

    def theirs(item: Any, key: str) -> bool:
        return isinstance(item, dict) and item.get(key) in wa_ids

    touched = False
    for entry in data["entry"]:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            metadata = value.get("metadata") if isinstance(value, dict) else None
            if not isinstance(metadata, dict) or metadata.get("phone_number_id") not in numbers:
                continue
            for key, id_key in (("messages", "from"), ("contacts", "wa_id"), ("user_preferences", "wa_id")):
                items = value.get(key)
                if isinstance(items, list) and any(theirs(item, id_key) for item in items):
                    value[key] = [item for item in items if not theirs(item, id_key)]
                    touched = True
            for status in value.get("statuses") if isinstance(value.get("statuses"), list) else []:
                if theirs(status, "recipient_id"):
                    status["recipient_id"] = ""
                    touched = True
    if not touched:
        return None
    # The platform's wire form (sandbox.body_encode). The signature no longer matches, which
    # is harmless: it was checked when the body was received, and is not checked again.
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode()


def _provider_bodies_erase(*, wa_ids: set[str]) -> int:
    """Removes this customer from the raw webhook bodies (public schema, kept for
    reprocessing) that carry their WhatsApp id and concern one of this company's numbers, so
    the erased content cannot be recovered from them either.

    What the customer sent before the erasure is covered by it, processed or not:
    - a body not processed yet loses this customer's items for our numbers
      (`_without_customer`); processed later, it records the rest (other customers, other
      companies) and nothing of them — no message, and no contact made for it. The rows
      are locked: processing that starts meanwhile waits and reads the cleaned body
      (tenants.inbound.provider_event_process updates the row before reading it). One that
      read the body before has its messages wait for the contact's lock and, finding no
      contact with that phone after the erasure, makes a new contact (the inbound rule).
    - a processed body is blanked whole (its items are applied already; the copy only
      served reprocessing, and processing a blanked body records it as invalid, no more).
    Pending bodies go first: one processed meanwhile is then still blanked.
    """
    numbers = set(PhoneNumber.objects.values_list("phone_number_id", flat=True))
    wa_ids = {wa_id for wa_id in wa_ids if len(wa_id) >= 6}
    if not wa_ids or not numbers:
        return 0
    bodies = ProviderEvent.objects.all()
    customer, ours = Q(), Q()
    for index, wa_id in enumerate(sorted(wa_ids)):
        bodies = bodies.alias(**{f"c{index}": _contains(wa_id.encode())})
        customer |= Q(**{f"c{index}": True})
    for index, number in enumerate(sorted(numbers)):
        bodies = bodies.alias(**{f"n{index}": _contains(number.encode())})
        ours |= Q(**{f"n{index}": True})
    bodies = bodies.filter(customer, ours).exclude(body=b"")
    changed = 0
    pending = bodies.filter(processed_at__isnull=True).select_for_update().order_by("pk").only("pk", "body")
    for event in pending:
        body = bytes(event.body)
        cleaned = _without_customer(body, wa_ids=wa_ids, numbers=numbers)
        if cleaned is not None:
            changed += ProviderEvent.objects.filter(pk=event.pk).update(body=cleaned)
    return changed + bodies.filter(processed_at__isnull=False).update(body=b"")


def _deliveries_end(*, contact_id: int) -> int:
    """Ends the contact's broadcast deliveries not sent yet: `queued` ones and `sending` ones
    (claimed by a chunk run) become `skipped` with reason `erased`, and each broadcast's
    `remaining` moves in this transaction (broadcasts._remaining_move, which completes a
    broadcast left with none), as an opt-out or a cancel does.

    A run holding a `sending` row records nothing for it any more (its claim token is gone),
    so no message with the recipient's parameters lands in the erased thread; a request
    already in flight may still reach the customer. Locks are taken in the order a chunk's
    claim and flush take them — delivery rows, then the broadcast's row (`remaining`, in id
    order) — so an erasure and a flush recording this contact's send wait for each other
    instead of deadlocking.
    """
    waiting = [Delivery.Status.QUEUED, Delivery.Status.SENDING]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {Delivery._meta.db_table} SET status = %s, skip_reason = %s, parameters = NULL,
                       claim_token = NULL, lease_until = NULL, next_attempt_at = NULL
                WHERE contact_id = %s AND status = ANY(%s) RETURNING broadcast_id""",  # noqa: S608 - table name only
            [Delivery.Status.SKIPPED, SKIP_REASON_ERASED, contact_id, waiting],
        )
        ended = Counter(row[0] for row in cursor.fetchall())
    for broadcast_id in sorted(ended):
        broadcasts._remaining_move(broadcast_id, ended[broadcast_id])
    return sum(ended.values())


def _storage_delete(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            # Logged without the name (it may carry a file name the customer chose).
            logger.exception("erasure: a media file could not be deleted from storage")


def _media_names(messages: Any) -> list[str]:
    return [name for name in messages.exclude(media_file="").values_list("media_file", flat=True) if name]


def _scrub_messages(messages: Any) -> int:
    """Personal content of these messages removed in one UPDATE; the rows keep their shape."""
    messages.filter(status=Message.Status.SCHEDULED).update(
        status=Message.Status.CANCELLED, status_rank=Message.STATUS_RANK[Message.Status.CANCELLED]
    )
    return messages.update(
        text="",
        payload={},
        media_id="",
        media_filename="",
        media_file="",
        media_status=Message.MediaStatus.NONE,
        template_parameters=[],
        error_detail="",
    )


@transaction.atomic
def contact_erase(*, contact: Contact, actor: Any) -> PrivacyLog:
    """Erases the contact's personal data for good and logs the erasure (counts only).

    Removed: name, WhatsApp profile name, phone, wa_id, attributes and labels; the text,
    captions, payloads, media (files deleted from storage after commit) and template
    parameters of every message in the contact's threads; the bodies of agents' notes in
    them; consent details; CSV upload rows and every broadcast delivery's parameters;
    outgoing webhook payloads about the contact; the customer's part of the raw provider
    webhook bodies (`_provider_bodies_erase`). Ended: scheduled and queued messages to the
    contact (cancelled) and broadcast deliveries not sent yet (`_deliveries_end`). Kept:
    rows and their shape.

    The contact's row lock is taken first. Inbound processing locks the same row before it
    books a message (messages.message_record_inbound; preferences.user_preference_apply
    too), so a message arriving meanwhile is either booked before and scrubbed here, or
    booked after on a new contact (the erased row no longer has the phone it looks for).
    """
    require_owner(actor, message=_("Only owners can erase a contact."))
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    if locked.erased_at is not None:
        raise ValidationError(_("This contact has been erased already."))
    old_phone = locked.phone
    provider_events = _provider_bodies_erase(wa_ids={locked.wa_id, old_phone.lstrip("+")} - {""})
    # Before the messages are scrubbed: a chunk flush recording this contact's send holds its
    # delivery row, so the erasure waits for it and then scrubs the message it wrote.
    deliveries_ended = _deliveries_end(contact_id=locked.pk)
    Delivery.objects.filter(contact_id=locked.pk, parameters__isnull=False).update(parameters=None)
    thread_ids = list(Thread.objects.filter(contact=locked).values_list("pk", flat=True))
    thread_public_ids = [str(t) for t in Thread.objects.filter(pk__in=thread_ids).values_list("public_id", flat=True)]
    messages = Message.objects.filter(thread_id__in=thread_ids)
    # Not sent yet, and never to be: send-later messages, and sends still in the queue (the
    # delivery task claims only `queued`). A send already claimed is in flight and goes on.
    messages_cancelled = (
        messages.filter(direction=Message.Direction.OUTBOUND)
        .filter(status__in=[Message.Status.SCHEDULED, Message.Status.QUEUED])
        .update(status=Message.Status.CANCELLED, status_rank=Message.STATUS_RANK[Message.Status.CANCELLED])
    )
    media_names = _media_names(messages)
    message_count = _scrub_messages(messages)
    note_count = Note.objects.filter(thread_id__in=thread_ids).update(body="")
    Thread.objects.filter(pk__in=thread_ids).update(last_message_preview="", updated_at=timezone.now())
    consent_count = ConsentEvent.objects.filter(contact=locked).update(detail="")
    placeholder = f"{ERASED_PHONE_PREFIX}{locked.pk}"
    upload_rows = AudienceUploadRow.objects.filter(Q(contact_id=locked.pk) | Q(phone=old_phone)).update(
        phone=placeholder, variables={}
    )
    webhook_query = Q(payload__icontains=str(locked.public_id))
    for public_id in thread_public_ids:
        webhook_query |= Q(payload__icontains=public_id)
    now = timezone.now()
    WebhookEvent.objects.filter(webhook_query, delivered_at__isnull=True, gave_up_at__isnull=True).update(
        gave_up_at=now
    )
    WebhookEvent.objects.filter(webhook_query).update(payload={"erased": True})
    PrivacyLog.objects.filter(thread_id__in=thread_ids).update(from_label="")
    locked.labels.clear()
    # An opt-out in the ledger keeps every audience ("all opted-in contacts" …) away from the
    # shell, whose phone cannot receive anything anyway.
    contact_services.consent_record(contact=locked, action=ConsentEvent.Action.OPT_OUT, source="erasure")
    Contact.objects.filter(pk=locked.pk).update(
        phone=placeholder,
        wa_id="",
        name="",
        profile_name="",
        attributes={},
        erased_at=now,
        updated_at=now,
    )
    log = PrivacyLog.objects.create(
        action=PrivacyLog.Action.ERASE_CONTACT,
        actor=_actor_user(actor),
        actor_label=actor_label(actor),
        contact_public_id=locked.public_id,
        counts={
            "threads": len(thread_ids),
            "messages": message_count,
            "media_files": len(media_names),
            "notes": note_count,
            "consent_events": consent_count,
            "upload_rows": upload_rows,
            "provider_events": provider_events,
            "messages_cancelled": messages_cancelled,
            "deliveries_ended": deliveries_ended,
        },
        created_at=now,
    )
    transaction.on_commit(lambda: _storage_delete(media_names))
    contact.refresh_from_db()
    return log


# --- retention ---------------------------------------------------------------------------------


def retention_update(*, company: Company, retention_days: int | None, actor: Any) -> Company:
    """Sets the retention period (days; None = keep forever). Owners only."""
    require_owner(actor, message=_("Only owners can change the retention period."))
    if retention_days is not None and not 1 <= retention_days <= RETENTION_MAX_DAYS:
        raise ValidationError(
            {"retention_days": [_("Choose between 1 and %(max)s days.") % {"max": RETENTION_MAX_DAYS}]}
        )
    Company.objects.filter(pk=company.pk).update(retention_days=retention_days)
    company.retention_days = retention_days
    return company


def _retention_batch(*, cutoff: datetime, size: int) -> tuple[int, int]:
    """One batch: lock up to `size` messages still holding content in resolved threads whose
    last message is older than `cutoff` (SKIP LOCKED: live work is never waited on), scrub
    them and delete their files after commit. Returns (messages, media files)."""
    with transaction.atomic():
        ids = list(
            Message.objects.filter(
                thread__status=Thread.Status.RESOLVED,
                thread__last_message_at__lt=cutoff,
            )
            .filter(~Q(text="") | ~Q(payload={}) | ~Q(media_file="") | ~Q(template_parameters=[]))
            .order_by("pk")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("pk", flat=True)[:size]
        )
        if not ids:
            return 0, 0
        messages = Message.objects.filter(pk__in=ids)
        names = _media_names(messages)
        count = _scrub_messages(messages)
        Thread.objects.filter(messages__pk__in=ids).update(last_message_preview="")
        transaction.on_commit(lambda: _storage_delete(names))
    return count, len(names)


def retention_purge(
    *, company: Company, now: datetime | None = None, batch_size: int = RETENTION_BATCH
) -> PrivacyLog | None:
    """Purges message bodies and media of resolved threads whose last message is older than
    the company's retention period, in batches (each its own short transaction, so memory and
    lock time stay bounded). Idempotent: purged messages no longer match. Logs the counts
    when anything was purged; None when retention is off or nothing was due."""
    if not company.retention_days:
        return None
    cutoff = (now or timezone.now()) - timedelta(days=company.retention_days)
    total_messages = total_media = 0
    while True:
        count, files = _retention_batch(cutoff=cutoff, size=batch_size)
        total_messages += count
        total_media += files
        if count < batch_size:
            break
    if not total_messages:
        return None
    logger.info("retention purge: %s messages, %s media files", total_messages, total_media)
    return PrivacyLog.objects.create(
        action=PrivacyLog.Action.RETENTION_PURGE,
        actor_label="system",
        counts={"messages": total_messages, "media_files": total_media, "retention_days": company.retention_days},
    )


def privacy_log_list() -> Any:
    return PrivacyLog.objects.all()
