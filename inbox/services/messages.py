"""Messages: recording inbound ones, applying delivery reports, sending outbound ones.

Inbound (called by tenants.inbound in the company's schema):
- a message is stored once per wamid (the unique constraint is the guarantee, not a
  cache), finds or reopens the contact's thread, and STOP/START-like words change consent;
- a status moves a message forward only, in ONE conditional UPDATE: sent < delivered <
  read; failed is final unless delivered/read was already recorded. Duplicates and
  reordering are harmless;
- a `user_preferences` change goes to the consent ledger (inbox.services.preferences), a
  template status change to the template (inbox.services.templates).

Outbound: `message_send` writes the message as `queued` and enqueues delivery after
commit. `message_deliver` (the task) claims it with a conditional UPDATE queued →
`unknown` before calling the provider: the claim IS the honest state while the request is
in flight, so a worker that dies mid-send leaves `unknown`, never a second send. The
answer then moves it to sent (with the wamid) or failed, or back to queued for a retry.
A status webhook carrying our public id in `biz_opaque_callback_data` reconciles an
`unknown` message whose answer was lost.
"""

from __future__ import annotations

import dataclasses
import logging
import mimetypes
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy

from accounts.models import User
from automation import hooks as automation_hooks
from billing import services as billing
from inbox import representations, tasks
from inbox.errors import (
    ContactOptedOutError,
    MessageNotRetryableError,
    NoPhoneNumberError,
    TemplateNotApprovedError,
    WindowClosedError,
)
from inbox.models import ConsentEvent, Contact, Message, PhoneNumber, Template, Thread
from inbox.phones import phone_from_wa_id, phone_normalize
from inbox.providers import throttle
from inbox.providers.base import Accepted, provider_get, template_render
from inbox.providers.errors import (
    MARKETING_LIMIT_CODE,
    MARKETING_OPT_OUT_CODE,
    WINDOW_CLOSED_CODE,
    ProviderError,
    ProviderOutcomeUnknownError,
    error_explain,
)
from inbox.services import contacts, csat, events, preferences, templates, threads
from tenants import verification
from tenants.inbound import InboundItem, InboundMessage, StatusUpdate, TemplateStatus, UserPreference
from tenants.models import Company, PhoneNumberRoute

logger = logging.getLogger(__name__)

TEXT_MAX = 4096
CAPTION_MAX = 1024
STOP_KEYWORDS = frozenset({"STOP", "STOPP", "ABMELDEN", "UNSUBSCRIBE"})
START_KEYWORDS = frozenset({"START"})
STOP_CONFIRMATION = (
    "You have been unsubscribed: {company} will not send you messages any more. Reply START to subscribe again."
)
START_CONFIRMATION = "You are subscribed again to messages from {company}. Reply STOP to unsubscribe."
MEDIA_TYPES = frozenset({"image", "document", "audio", "video", "sticker"})
# What agents may attach (the platform's accepted types for outbound image/document).
SEND_MIME_TYPES = {
    Message.Type.IMAGE: frozenset({"image/jpeg", "image/png"}),
    Message.Type.DOCUMENT: frozenset(
        {
            "application/pdf", "text/plain", "application/msword", "application/vnd.ms-excel",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        }
    ),
}  # fmt: skip
STATUS_BY_NAME = {
    "sent": Message.Status.SENT,
    "delivered": Message.Status.DELIVERED,
    "read": Message.Status.READ,
    "failed": Message.Status.FAILED,
}
RANK = Message.STATUS_RANK

WINDOW_CLOSED = gettext_lazy(
    "The 24-hour window is closed: the customer last wrote more than 24 hours ago. Send a template."
)
TEXT_REQUIRED = gettext_lazy("Write something.")
TEXT_TOO_LONG = f"A message can hold at most {TEXT_MAX} characters."
TYPE_INVALID = gettext_lazy("Choose text, template, image or document.")
MEDIA_REQUIRED = gettext_lazy("Attach a file or give its URL.")
MEDIA_TYPE_REFUSED = gettext_lazy("This file type cannot be sent as {kind}.")
MEDIA_NOT_FOUND = gettext_lazy("The uploaded file was not found.")
NO_NUMBER = gettext_lazy("Connect a WhatsApp number first.")
TEMPLATE_NOT_APPROVED = gettext_lazy("The template {name!r} ({language}) is not approved.")
TEMPLATE_NOT_FOUND = gettext_lazy("There is no template {name!r} in language {language!r}.")
OPTED_OUT = gettext_lazy("This contact opted out of messages from the business.")
MARKETING_OPTED_OUT = gettext_lazy("This contact opted out of marketing messages.")
RETRY_NOT_FAILED = gettext_lazy("Only a failed message can be sent again.")
RETRY_DONE = gettext_lazy("This message was sent again already.")
RETRY_TOO_SOON = gettext_lazy(
    "The customer received enough marketing messages: send it again after {at:%Y-%m-%d %H:%M} UTC."
)
# The platform's per-user marketing limit: a retry before this extends the block (§2.5).
MARKETING_LIMIT_PAUSE = timedelta(hours=24)


class DeliveryRetryError(Exception):
    """A transient provider failure: the message is queued again and the task retries."""

    def __init__(self, error: ProviderError) -> None:
        super().__init__(str(error))
        self.error = error


def _company() -> Company | None:
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Company):
        return tenant
    return Company.objects.filter(schema_name=connection.schema_name).first()


def _publish(event_type: str, message: Message) -> None:
    events.event_publish(event_type=event_type, data=representations.message_data(message))


# --- inbound -------------------------------------------------------------------------------


def inbound_items_apply(*, items: list[InboundItem]) -> int:
    """Applies a batch of one company's webhook items; returns how many failed.

    Call in the company's schema, outside any transaction. One transaction for the batch
    and a savepoint per item: one odd item is logged and rolled back alone.
    """
    wanted = {item.phone_number_id for item in items if not isinstance(item, TemplateStatus)}
    numbers = {p.phone_number_id: p for p in PhoneNumber.objects.filter(phone_number_id__in=wanted)}
    failed = 0
    with transaction.atomic():
        for item in items:
            try:
                with transaction.atomic():
                    if isinstance(item, StatusUpdate):
                        message_status_apply(item=item)
                        continue
                    if isinstance(item, UserPreference):
                        preferences.user_preference_apply(item=item)
                        continue
                    if isinstance(item, TemplateStatus):
                        templates.template_status_apply(item=item)
                        continue
                    phone_number = numbers.get(item.phone_number_id)
                    if phone_number is None:
                        raise LookupError(f"number {item.phone_number_id} is routed here but not connected")
                    message_record_inbound(phone_number=phone_number, item=item)
            except Exception:
                label = item.key if isinstance(item, UserPreference | TemplateStatus) else item.wamid
                logger.exception("inbound item %s in schema %s failed", label, connection.schema_name)
                failed += 1
    return failed


@transaction.atomic
def message_record_inbound(*, phone_number: PhoneNumber, item: InboundMessage) -> tuple[Message, bool]:
    """Stores a customer's message once per wamid; returns (message, created).

    A wamid already stored changes nothing (duplicates and replays are normal). A new one
    updates the contact's profile name, books the message on the thread (reopening it),
    applies STOP/START keywords and starts the media download.
    """
    existing = Message.objects.filter(wamid=item.wamid).first()
    if existing is not None:
        return existing, False
    phone = phone_from_wa_id(item.from_wa_id)
    # Serializes with an erasure of this customer (privacy.contact_erase locks the same row):
    # one that committed first has changed the row's phone, so the lock finds no row and the
    # message makes a new contact; one that comes later waits here and then scrubs the message.
    Contact.objects.select_for_update(no_key=True).filter(phone=phone).first()
    contact, _ = contacts.contact_get_or_create(phone=phone, profile_name=item.profile_name, wa_id=item.from_wa_id)
    thread = threads.thread_get_or_create(contact=contact, phone_number=phone_number)
    has_media = item.type in MEDIA_TYPES and bool(item.media_id)
    message = Message(
        thread=thread,
        direction=Message.Direction.INBOUND,
        type=item.type,
        text=item.text,
        payload=item.payload,
        wamid=item.wamid,
        context_wamid=item.context_wamid[:255],
        status=Message.Status.RECEIVED,
        status_rank=RANK[Message.Status.RECEIVED],
        status_at=item.timestamp or timezone.now(),
        provider_timestamp=item.timestamp,
        media_id=item.media_id,
        media_mime_type=item.media_mime_type,
        media_filename=item.media_filename,
        media_status=Message.MediaStatus.PENDING if has_media else Message.MediaStatus.NONE,
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        # The same wamid, stored concurrently by another worker.
        return Message.objects.get(wamid=item.wamid), False
    was_status, was_resolved_at = thread.status, thread.resolved_at
    thread = threads.thread_record_inbound(thread=thread, message=message, opens_window=_opens_window(message))
    message.thread = thread
    _publish("message.received", message)
    # A satisfaction rating (inbox/services/csat.py) is stored for the resolve that asked for it.
    csat.csat_reply_apply(message=message, was_status=was_status, was_resolved_at=was_resolved_at)
    if has_media:
        tasks.media_fetch_task.delay_on_commit(message.pk)
    _keyword_apply(contact=contact, thread=thread, message=message)
    automation_hooks.inbound_recorded(message=message)  # greeting/away/assignment, after commit
    return message, True


def _opens_window(message: Message) -> bool:
    """Whether this inbound message opens or refreshes the 24-hour window.

    Conservative (whatsapp-platform.md §3.1): unsupported and system items and the removal
    of a reaction are not a customer writing to us, so they leave the window as it was.
    """
    if message.type == Message.Type.UNSUPPORTED:
        return False
    return not (message.type == Message.Type.REACTION and not (message.payload or {}).get("emoji"))


def _keyword_apply(*, contact: Contact, thread: Thread, message: Message) -> None:
    if message.type != Message.Type.TEXT:
        return
    word = message.text.strip()
    keyword = word.upper()
    if keyword in STOP_KEYWORDS:
        action, confirmation = ConsentEvent.Action.OPT_OUT, STOP_CONFIRMATION
    elif keyword in START_KEYWORDS:
        action, confirmation = ConsentEvent.Action.OPT_IN, START_CONFIRMATION
    else:
        return
    contacts.consent_record(contact=contact, action=action, source="keyword", detail=word)
    company = _company()
    text = confirmation.format(company=company.name if company else "this business")
    try:
        # The customer's own message just opened the window; a replayed old message did not.
        message_send(thread=thread, sender=None, type=Message.Type.TEXT, text=text)
    except WindowClosedError:
        logger.info("keyword %s from an old message: no confirmation sent", keyword)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError, AttributeError):
        return None


# A report can overtake the record of its send: a broadcast chunk writes its messages up
# to BROADCAST_FLUSH_SECONDS after the provider answered (docs/broadcasts.md). Such a
# report names our callback id but finds no message yet; it is tried again after 2, 4, 8,
# … s, about two minutes in all, then dropped as a report about a send nobody recorded.
EARLY_STATUS_RETRIES = 6
# A report without a callback id can overtake its send too: the provider may post `sent` or
# `delivered` before the send task has recorded the wamid from its answer. It is tried again
# the same way, after 2, 4, 8, 16, 32 s (about a minute), then dropped with a log line.
UNKNOWN_WAMID_STATUS_RETRIES = 5


@transaction.atomic
def message_status_apply(*, item: StatusUpdate, attempt: int = 0) -> Message | None:
    """Moves an outbound message forward by a delivery report; None when nothing changed.

    One conditional UPDATE (`status_rank <` the new rank; failed only below delivered), so
    duplicates and reordering are harmless. A report for a message not recorded yet is
    retried: EARLY_STATUS_RETRIES times when it carries a callback id of ours
    (`biz_opaque_callback_data`), UNKNOWN_WAMID_STATUS_RETRIES times for an unknown wamid
    without one; then it is dropped with a log line. A report carrying our public id also
    finds a message whose send answer was lost and records its wamid.
    """
    status = STATUS_BY_NAME.get(item.status)
    if status is None:
        logger.info("status %r for %s ignored", item.status, item.wamid)
        return None
    rank = RANK[status]
    at = item.timestamp or timezone.now()
    ceiling = RANK[Message.Status.DELIVERED] if status == Message.Status.FAILED else rank
    match = Q(wamid=item.wamid)
    callback_id = _uuid(item.callback_data)
    updates: dict[str, Any] = {"status": status, "status_rank": rank, "status_at": at}
    if callback_id is not None:
        match |= Q(public_id=callback_id, wamid__isnull=True)
        updates["wamid"] = Coalesce(F("wamid"), Value(item.wamid))
    if status != Message.Status.FAILED:
        updates["sent_at"] = Coalesce(F("sent_at"), Value(at))
    if status in (Message.Status.DELIVERED, Message.Status.READ):
        updates["delivered_at"] = Coalesce(F("delivered_at"), Value(at))
    if status == Message.Status.READ:
        updates["read_at"] = Coalesce(F("read_at"), Value(at))
    if status == Message.Status.FAILED:
        info = error_explain(item.error_code, title=item.error_title, detail=item.error_detail)
        updates.update(error_code=info.code, error_title=info.title[:255], error_detail=info.detail)
    updated = Message.objects.filter(match, direction=Message.Direction.OUTBOUND, status_rank__lt=ceiling).update(
        **updates
    )
    if not updated:
        known = Q(wamid=item.wamid) | Q(public_id=callback_id) if callback_id is not None else Q(wamid=item.wamid)
        if Message.objects.filter(known).exists():
            logger.info("status %s for %s not applied (not newer)", item.status, item.wamid)
            return None
        retries = EARLY_STATUS_RETRIES if callback_id is not None else UNKNOWN_WAMID_STATUS_RETRIES
        if attempt < retries:
            args, countdown = [_status_payload(item), attempt + 1], 2 ** (attempt + 1)
            transaction.on_commit(lambda: tasks.message_status_retry_task.apply_async(args, countdown=countdown))
            return None
        logger.warning(
            "status %s for unknown %s dropped after %d attempt(s): no message of ours has it",
            item.status,
            item.wamid,
            attempt + 1,
        )
        return None
    message = Message.objects.select_related("thread", "thread__contact", "sent_by").get(wamid=item.wamid)
    if status in (Message.Status.DELIVERED, Message.Status.READ):
        _usage_book(message)
    _publish("message.status", message)
    if status == Message.Status.FAILED and item.error_code == MARKETING_OPT_OUT_CODE:
        _marketing_opt_out(message.thread.contact, item.error_code)
    return message


def _usage_book(message: Message) -> None:
    """Books a delivered outbound message on the billing ledger (once per message: billing
    ignores a repeat). Priced by the category it was sent with and, for utility templates,
    whether the customer's window was open when it was sent (whatsapp-platform.md §4.3)."""
    company = _company()
    if company is None:
        return
    category = (message.template_category or "marketing") if message.type == Message.Type.TEMPLATE else "service"
    window_open = False
    if category == Template.Category.UTILITY:
        sent = message.sent_at or message.created_at
        window_open = (
            Message.objects.filter(
                thread_id=message.thread_id,
                direction=Message.Direction.INBOUND,
                created_at__lte=sent,
                created_at__gt=sent - threads.WINDOW,
            )
            .exclude(type=Message.Type.UNSUPPORTED)
            .exists()
        )
    billing.usage_book(
        company=company,
        message_id=message.public_id,
        category=category,
        phone=message.thread.contact.phone,
        window_open=window_open,
    )


def _status_payload(item: StatusUpdate) -> dict[str, Any]:
    payload = dataclasses.asdict(item)
    payload["timestamp"] = item.timestamp.isoformat() if item.timestamp else None
    return payload


def message_status_retry(*, payload: dict[str, Any], attempt: int) -> Message | None:
    """`message_status_apply` of a report that came before its message was recorded."""
    stamp = payload.get("timestamp")
    item = StatusUpdate(**{**payload, "timestamp": datetime.fromisoformat(stamp) if stamp else None})
    return message_status_apply(item=item, attempt=attempt)


def _marketing_opt_out(contact: Contact, code: int) -> None:
    if not contact.marketing_opted_out:
        contacts.consent_record(
            contact=contact,
            action=ConsentEvent.Action.OPT_OUT,
            purpose=ConsentEvent.Purpose.MARKETING,
            source="provider_error",
            detail=f"Provider error {code}: the customer stopped marketing messages.",
        )


# --- outbound ------------------------------------------------------------------------------


def _default_phone_number() -> PhoneNumber:
    company = _company()
    routed = PhoneNumberRoute.objects.filter(company=company).values_list("phone_number_id", flat=True)
    number = PhoneNumber.objects.filter(phone_number_id__in=list(routed)).order_by("id").first()
    if number is None:
        raise NoPhoneNumberError(NO_NUMBER)
    return number


def _thread_for(*, thread: Thread | None, contact: Contact | None, to: str, phone_number: PhoneNumber | None) -> Thread:
    if thread is not None:
        return thread
    if contact is None:
        contact, _ = contacts.contact_get_or_create(phone=phone_normalize(to))
    return threads.thread_get_or_create(contact=contact, phone_number=phone_number or _default_phone_number())


def _template_resolve(template: Template | dict[str, Any]) -> Template:
    if isinstance(template, Template):
        found: Template | None = template
        name, language = template.name, template.language
    else:
        name, language = str(template.get("name", "")), str(template.get("language", ""))
        found = Template.objects.filter(name=name, language=language).first()
    if found is None:
        raise TemplateNotApprovedError(TEMPLATE_NOT_FOUND.format(name=name, language=language))
    if found.status != Template.Status.APPROVED:
        raise TemplateNotApprovedError(TEMPLATE_NOT_APPROVED.format(name=name, language=language))
    return found


def _media_attach(message: Message, *, media: str | File[Any] | None, filename: str) -> None:
    """Outbound media: a URL goes to the provider as `link`; a stored file is uploaded at send.

    Uploading our copy (rather than handing out a link to it) needs no public media URL
    and no signed links: our storage stays private.
    """
    if media is None or media == "":
        raise ValidationError({"media": [MEDIA_REQUIRED]})
    if isinstance(media, str) and media.startswith(("https://", "http://")):
        message.payload = {"link": media}
        name = filename or media.rsplit("/", 1)[-1].split("?", 1)[0]
        mime = mimetypes.guess_type(name)[0] or ""
    elif isinstance(media, str):
        if not default_storage.exists(media):
            raise ValidationError({"media": [MEDIA_NOT_FOUND]})
        message.media_file.name = media
        name = filename or media.rsplit("/", 1)[-1]
        mime = mimetypes.guess_type(name)[0] or ""
        if mime not in SEND_MIME_TYPES[message.type]:
            raise ValidationError({"media": [MEDIA_TYPE_REFUSED.format(kind=message.type)]})
    else:
        name = filename or (media.name or "file").rsplit("/", 1)[-1]
        mime = mimetypes.guess_type(name)[0] or ""
        if mime not in SEND_MIME_TYPES[message.type]:
            raise ValidationError({"media": [MEDIA_TYPE_REFUSED.format(kind=message.type)]})
        schema = connection.schema_name
        message.media_file.save(f"{schema}/{uuid.uuid4().hex}/{name}", media, save=False)
    message.media_filename = name[:255]
    message.media_mime_type = mime
    message.media_status = Message.MediaStatus.READY


@transaction.atomic
def message_send(
    *,
    thread: Thread | None = None,
    contact: Contact | None = None,
    to: str = "",
    phone_number: PhoneNumber | None = None,
    sender: User | None,
    type: str,
    text: str = "",
    template: Template | dict[str, Any] | None = None,
    template_parameters: list[Any] | dict[str, Any] | None = None,
    media: str | File[Any] | None = None,
    filename: str = "",
    reply_to: str = "",
) -> Message:
    """Queues an outbound message and enqueues its delivery after commit.

    Recipient: `thread`, or `contact`/`to` (E.164; a contact is made if needed) on
    `phone_number` (default: the company's first connected number). Free-form messages
    need the 24-hour window (WindowClosedError); templates must be approved
    (TemplateNotApprovedError) and are refused to opted-out contacts (ContactOptedOutError).
    For image/document, `media` is a URL, the name of a file in Django storage, or a File;
    `text` is the caption.
    """
    if type not in (Message.Type.TEXT, Message.Type.TEMPLATE, Message.Type.IMAGE, Message.Type.DOCUMENT):
        raise ValidationError({"type": [TYPE_INVALID]})
    thread = _thread_for(thread=thread, contact=contact, to=to, phone_number=phone_number)
    company = _company()
    message = Message(
        thread=thread,
        direction=Message.Direction.OUTBOUND,
        type=type,
        status=Message.Status.QUEUED,
        status_rank=RANK[Message.Status.QUEUED],
        status_at=timezone.now(),
        sent_by=sender,
        sender_identity=verification.sender_identity_snapshot(company=company),
        context_wamid=reply_to[:255],
    )
    text = (text or "").strip()
    if type == Message.Type.TEMPLATE:
        if template is None:
            raise ValidationError({"template": ["Choose a template."]})
        found = _template_resolve(template)
        if template_parameters is None and isinstance(template, dict):
            template_parameters = template.get("parameters")
        recipient = thread.contact
        if recipient.opted_out:
            raise ContactOptedOutError(OPTED_OUT)
        if found.category == Template.Category.MARKETING and recipient.marketing_opted_out:
            raise ContactOptedOutError(MARKETING_OPTED_OUT)
        if company is not None:
            # A template is business-initiated: it counts against the plan's daily cap.
            billing.limits_reserve(company=company, kind=billing.KIND_MESSAGE)
        message.template_name = found.name
        message.template_language = found.language
        message.template_category = found.category
        message.template_parameters = template_parameters or []
        message.text = template_render(found.body, template_parameters)
        message.payload = {
            **message.payload,
            **verification.verify_link_payload(
                company=company, phone=thread.phone_number.display_number, buttons=found.buttons
            ),
        }
    else:
        if not threads.window_is_open(thread):
            raise WindowClosedError(WINDOW_CLOSED)
        if type == Message.Type.TEXT:
            if not text:
                raise ValidationError({"text": [TEXT_REQUIRED]})
            if len(text) > TEXT_MAX:
                raise ValidationError({"text": [TEXT_TOO_LONG]})
            message.text = text
        else:
            if len(text) > CAPTION_MAX:
                raise ValidationError({"text": [f"A caption can hold at most {CAPTION_MAX} characters."]})
            message.text = text
            _media_attach(message, media=media, filename=filename)
    message.save()
    threads.thread_record_outbound(thread=thread, message=message)
    tasks.message_deliver_task.delay_on_commit(message.pk)
    return message


@transaction.atomic
def message_retry(*, message: Message, sender: User | None) -> Message:
    """Sends a failed outbound message again as a NEW queued message, which it returns.

    The failed message stays as it is (history). The new one copies type, text, template
    (name, language, parameters), media and reply context, and passes `message_send`'s
    rules again: WindowClosedError, TemplateNotApprovedError, ContactOptedOutError. Raises
    MessageNotRetryableError unless `message` is an outbound `failed` message not retried
    yet (and, after 131049, not before 24 h). The link lives in `payload` on both sides
    (`retry_of` on the new message, `retried_as` on the failed one), written under the
    failed message's row lock, so a double click makes one retry.
    """
    failed = Message.objects.select_for_update().select_related("thread").get(pk=message.pk)
    if failed.direction != Message.Direction.OUTBOUND or failed.status != Message.Status.FAILED:
        raise MessageNotRetryableError(RETRY_NOT_FAILED)
    if (failed.payload or {}).get("retried_as"):
        raise MessageNotRetryableError(RETRY_DONE)
    if failed.error_code == MARKETING_LIMIT_CODE and failed.status_at is not None:
        allowed_at = failed.status_at + MARKETING_LIMIT_PAUSE
        if timezone.now() < allowed_at:
            raise MessageNotRetryableError(RETRY_TOO_SOON.format(at=allowed_at))
    copy: dict[str, Any] = {"text": failed.text, "reply_to": failed.context_wamid}
    if failed.type == Message.Type.TEMPLATE:
        copy["template"] = {"name": failed.template_name, "language": failed.template_language}
        copy["template_parameters"] = failed.template_parameters
    elif failed.type in (Message.Type.IMAGE, Message.Type.DOCUMENT):
        copy["media"] = failed.media_file.name if failed.media_file else (failed.payload or {}).get("link", "")
        copy["filename"] = failed.media_filename
    retry = message_send(thread=failed.thread, sender=sender, type=failed.type, **copy)
    retry.payload = {**retry.payload, "retry_of": str(failed.public_id)}
    retry.save(update_fields=["payload"])
    failed.payload = {**(failed.payload or {}), "retried_as": str(retry.public_id)}
    failed.save(update_fields=["payload"])
    return retry


def _fail(message: Message, error: ProviderError) -> Message:
    info = error.info
    with transaction.atomic():
        updated = Message.objects.filter(pk=message.pk, status=Message.Status.UNKNOWN).update(
            status=Message.Status.FAILED,
            status_rank=RANK[Message.Status.FAILED],
            status_at=timezone.now(),
            error_code=info.code,
            error_title=info.title[:255],
            error_detail=info.detail,
        )
        message.refresh_from_db()
        if updated:
            _publish("message.status", message)
            if info.code == MARKETING_OPT_OUT_CODE:
                _marketing_opt_out(message.thread.contact, info.code)
    return message


def _accepted(message: Message, accepted: Accepted) -> Message:
    now = timezone.now()
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, wamid__isnull=True).update(wamid=accepted.wamid)
        updated = Message.objects.filter(pk=message.pk, status_rank__lt=RANK[Message.Status.SENT]).update(
            status=Message.Status.SENT,
            status_rank=RANK[Message.Status.SENT],
            status_at=now,
            sent_at=Coalesce(F("sent_at"), Value(now)),
        )
        message.refresh_from_db()
        if updated:
            _publish("message.status", message)
    return message


def _number_rate(phone_number: PhoneNumber) -> float:
    """The number's messages per second, as broadcasts pace it (BROADCAST_NUMBER_RATE[S])."""
    from inbox.services import broadcasts  # here: broadcasts imports tasks, which imports this module

    return broadcasts.number_rate(phone_number)


def message_deliver(*, message_id: int, final_attempt: bool = False) -> Message | None:
    """Sends a queued message through the provider; None when it was not queued.

    Call outside any transaction (the HTTP call must not hold one). Raises
    DeliveryRetryError on a transient failure unless `final_attempt`; the message is
    then queued again for the caller's retry.
    """
    claimed = Message.objects.filter(
        pk=message_id, direction=Message.Direction.OUTBOUND, status=Message.Status.QUEUED
    ).update(status=Message.Status.UNKNOWN, status_rank=RANK[Message.Status.UNKNOWN], status_at=timezone.now())
    if not claimed:
        logger.info("message %s is not queued: nothing to deliver", message_id)
        return None
    message = Message.objects.select_related("thread__contact", "thread__phone_number", "sent_by").get(pk=message_id)
    # Checked again at send time: a message may have waited in the queue or in retries.
    if message.type != Message.Type.TEMPLATE and not threads.window_is_open(message.thread):
        closed = ProviderError(code=WINDOW_CLOSED_CODE, detail="The window closed before the message could be sent.")
        return _fail(message, closed)
    # Counted against the number's send rate ahead of any broadcast: never waits (docs/broadcasts.md).
    number = message.thread.phone_number
    throttle.number_take_priority(phone_number_id=number.phone_number_id, rate=_number_rate(number))
    try:
        accepted = provider_get().send(message)
    except ProviderOutcomeUnknownError as exc:
        logger.warning("message %s: outcome unknown (%s); waiting for a status webhook", message_id, exc)
        _publish("message.status", message)
        return message
    except ProviderError as exc:
        if exc.retryable and not final_attempt:
            Message.objects.filter(pk=message_id, status=Message.Status.UNKNOWN).update(
                status=Message.Status.QUEUED, status_rank=RANK[Message.Status.QUEUED]
            )
            raise DeliveryRetryError(exc) from exc
        logger.info("message %s failed: %s", message_id, exc)
        return _fail(message, exc)
    return _accepted(message, accepted)
