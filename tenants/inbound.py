"""Inbound provider webhooks: store the raw POST, then parse and route it to companies.

The view only verifies and stores (`provider_event_receive`); `provider_event_process`
runs in Celery: it reads EVERY entry/change/message/status/preference of the body
(`messages`, `user_preferences` and `message_template_status_update` changes; batches
hold up to 1,000 items), routes each by `metadata.phone_number_id` through
PhoneNumberRoute (template changes name no number: they go by the account, `entry.id`,
to the companies whose routes carry that `waba_id`), and hands each company its items
inside that company's schema. Items for a number (or account) nobody connected are
counted and logged, never an error: the provider would retry them for a week
(whatsapp-platform.md §1.6-1.7). Processing is idempotent end to end, so a replay or
a duplicate delivery changes nothing.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import schema_context

from tenants import tasks
from tenants.models import Company, PhoneNumberRoute, ProviderEvent

logger = logging.getLogger(__name__)

MEDIA_TYPES = ("image", "document", "audio", "video", "sticker")
TEXT_LIMIT = 10_000


class EnvelopeInvalidError(Exception):
    pass


@dataclass(frozen=True)
class InboundMessage:
    """One `messages[]` item, typed; `type` is one of inbox's Message.Type values."""

    phone_number_id: str
    wamid: str
    from_wa_id: str
    type: str
    text: str
    payload: dict[str, Any]
    timestamp: datetime | None = None
    profile_name: str = ""
    context_wamid: str = ""
    media_id: str = ""
    media_mime_type: str = ""
    media_filename: str = ""


@dataclass(frozen=True)
class StatusUpdate:
    """One `statuses[]` item: a delivery report about one of our outbound messages."""

    phone_number_id: str
    wamid: str
    status: str
    timestamp: datetime | None = None
    recipient_id: str = ""
    callback_data: str = ""
    error_code: int | None = None
    error_title: str = ""
    error_detail: str = ""


@dataclass(frozen=True)
class UserPreference:
    """One `user_preferences[]` item: the customer used WhatsApp's stop/resume marketing control."""

    phone_number_id: str
    wa_id: str
    category: str
    value: str
    detail: str
    timestamp: datetime

    @property
    def key(self) -> str:
        """Identifies this change across replays: (wa_id, timestamp, value)."""
        return f"{self.wa_id}:{int(self.timestamp.timestamp())}:{self.value}"


@dataclass(frozen=True)
class TemplateStatus:
    """One `message_template_status_update` change: it names the account (WABA), no number."""

    waba_id: str
    name: str
    language: str
    event: str
    reason: str = ""
    template_id: str = ""

    @property
    def key(self) -> str:
        return f"template {self.name}/{self.language} {self.event}"


InboundItem = InboundMessage | StatusUpdate | UserPreference | TemplateStatus
# The `changes[].field` values read; every other field is counted as ignored.
FIELDS = frozenset({"messages", "user_preferences", "message_template_status_update"})


@dataclass
class Envelope:
    items: list[InboundItem] = field(default_factory=list)
    # phone_number_id → the account (`entry.id`) its signed `messages` changes came under.
    accounts: dict[str, str] = field(default_factory=dict)
    # Items we could not read (logged), and changes we do not act on (other fields).
    malformed: int = 0
    ignored: int = 0


def _timestamp(raw: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(raw), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _sent_at(raw: Any) -> datetime | None:
    """A message's provider timestamp, for the 24-hour window: one in the future is clamped to now.

    The window runs 24 hours from the customer's last message by the provider's clock, so a
    timestamp ahead of ours (clock skew, a forged or broken value) would open it for longer
    than 24 hours; it is taken as now. An old timestamp is kept as it is: the window really
    closed then, however late the webhook arrives.
    """
    at = _timestamp(raw)
    if at is None:
        return None
    return min(at, timezone.now())


def _wa_id(value: Any) -> str:
    """A customer's WhatsApp id: ASCII digits, a leading "+" dropped; "" when it is anything else."""
    wa_id = _str(value, 33).removeprefix("+")[:32]
    return wa_id if wa_id.isascii() and wa_id.isdigit() else ""


def _str(value: Any, limit: int = 255) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _summary(kind: str, raw: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(our type, readable text, payload) for a message's type object."""
    obj = raw.get(kind)
    obj = obj if isinstance(obj, dict) else {}
    if kind == "text":
        return "text", _str(obj.get("body"), TEXT_LIMIT), obj
    if kind in MEDIA_TYPES:
        return kind, _str(obj.get("caption"), TEXT_LIMIT), obj
    if kind == "location":
        where = ", ".join(p for p in (_str(obj.get("name")), _str(obj.get("address"))) if p)
        coords = f"{obj.get('latitude')}, {obj.get('longitude')}"
        return "location", f"Location: {where} ({coords})" if where else f"Location: {coords}", obj
    if kind == "contacts":
        cards = raw.get("contacts") if isinstance(raw.get("contacts"), list) else []
        names = []
        for card in cards:
            if isinstance(card, dict):
                name = card.get("name") if isinstance(card.get("name"), dict) else {}
                phones = [p.get("phone", "") for p in card.get("phones") or [] if isinstance(p, dict)]
                label = _str(name.get("formatted_name")) or "Contact"
                names.append(f"{label} ({', '.join(phones)})" if phones else label)
        return "contacts", "Shared contact: " + "; ".join(names) if names else "Shared contact", {"contacts": cards}
    if kind == "interactive":
        sub = _str(obj.get("type"))
        reply = obj.get(sub) if isinstance(obj.get(sub), dict) else {}
        text = _str(reply.get("title")) or "Interactive reply"
        if reply.get("description"):
            text = f"{text} ({_str(reply.get('description'))})"
        return "interactive", text, obj
    if kind == "button":
        return "button", _str(obj.get("text")) or _str(obj.get("payload")) or "Button", obj
    if kind == "reaction":
        emoji = _str(obj.get("emoji"))
        return "reaction", f"Reacted {emoji}" if emoji else "Removed a reaction", obj
    return "unsupported", _unsupported_text(kind, raw), {"type": kind, kind: raw.get(kind), "errors": raw.get("errors")}


def _unsupported_text(kind: str, raw: dict[str, Any]) -> str:
    if kind == "system":
        system = raw.get("system") if isinstance(raw.get("system"), dict) else {}
        return _str(system.get("body"), 1000) or f"System message: {_str(system.get('type')) or 'unknown'}"
    if kind == "order":
        order = raw.get("order") if isinstance(raw.get("order"), dict) else {}
        items = order.get("product_items") if isinstance(order.get("product_items"), list) else []
        return f"Order with {len(items)} item(s) (not supported yet)"
    errors = raw.get("errors") if isinstance(raw.get("errors"), list) else []
    if errors and isinstance(errors[0], dict):
        error = errors[0]
        details = (error.get("error_data") or {}).get("details") if isinstance(error.get("error_data"), dict) else ""
        return f"Unsupported message ({error.get('code')}: {_str(details) or _str(error.get('title'))})"
    return f"Unsupported message type: {kind or 'unknown'}"


def message_parse(raw: Any, *, phone_number_id: str, profile_names: dict[str, str]) -> InboundMessage:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        raise ValueError("message without an id")
    sender = _wa_id(raw.get("from"))
    if not sender:
        raise ValueError("message without a usable sender")
    kind, text, payload = _summary(_str(raw.get("type"), 32), raw)
    media = payload if kind in MEDIA_TYPES else {}
    context = raw.get("context") if isinstance(raw.get("context"), dict) else {}
    profile = profile_names.get(sender) or (next(iter(profile_names.values())) if len(profile_names) == 1 else "")
    return InboundMessage(
        phone_number_id=phone_number_id,
        wamid=raw["id"],
        from_wa_id=sender,
        type=kind,
        text=text,
        payload=payload,
        timestamp=_sent_at(raw.get("timestamp")),
        profile_name=profile,
        context_wamid=_str(context.get("id")),
        media_id=_str(media.get("id"), 128),
        media_mime_type=_str(media.get("mime_type"), 128),
        media_filename=_str(media.get("filename")),
    )


def status_parse(raw: Any, *, phone_number_id: str) -> StatusUpdate:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not isinstance(raw.get("status"), str):
        raise ValueError("status without id or status")
    errors = raw.get("errors") if isinstance(raw.get("errors"), list) else []
    error = errors[0] if errors and isinstance(errors[0], dict) else {}
    error_data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    code = error.get("code")
    return StatusUpdate(
        phone_number_id=phone_number_id,
        wamid=raw["id"],
        status=raw["status"],
        timestamp=_timestamp(raw.get("timestamp")),
        recipient_id=_str(raw.get("recipient_id"), 32),
        callback_data=_str(raw.get("biz_opaque_callback_data"), 512),
        error_code=code if isinstance(code, int) else None,
        error_title=_str(error.get("title")) or _str(error.get("message")),
        error_detail=_str(error_data.get("details"), 2000) or _str(error.get("message"), 2000),
    )


def user_preference_parse(raw: Any, *, phone_number_id: str) -> UserPreference:
    if not isinstance(raw, dict):
        raise ValueError("preference is not an object")
    wa_id = _str(raw.get("wa_id"), 32)
    timestamp = _timestamp(raw.get("timestamp"))
    if not wa_id.isdigit() or timestamp is None or not isinstance(raw.get("value"), str):
        raise ValueError("preference without wa_id, timestamp or value")
    return UserPreference(
        phone_number_id=phone_number_id,
        wa_id=wa_id,
        category=_str(raw.get("category"), 64),
        value=_str(raw.get("value"), 32),
        detail=_str(raw.get("detail"), 1000),
        timestamp=timestamp,
    )


def template_status_parse(value: dict[str, Any], *, waba_id: str) -> TemplateStatus:
    name = _str(value.get("message_template_name"), 512)
    language = _str(value.get("message_template_language"), 16)
    event = _str(value.get("event"), 32)
    if not waba_id or not name or not language or not event:
        raise ValueError("template status without account, name, language or event")
    template_id = value.get("message_template_id")
    return TemplateStatus(
        waba_id=waba_id,
        name=name,
        language=language,
        event=event.upper(),
        reason=_str(value.get("reason"), 1000),
        template_id=str(template_id)[:64] if isinstance(template_id, int | str) else "",
    )


def envelope_parse(body: bytes) -> Envelope:
    """Every message and status of a webhook body, in order; malformed items are counted, not fatal."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeInvalidError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("entry"), list):
        raise EnvelopeInvalidError("body has no entry list")
    envelope = Envelope()
    for entry in data["entry"]:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        waba_id = _str(entry.get("id"), 64) if isinstance(entry, dict) else ""
        for change in changes if isinstance(changes, list) else []:
            value = change.get("value") if isinstance(change, dict) else None
            kind = change.get("field") if isinstance(change, dict) else None
            if kind is None:
                # No `field`: read as chat traffic (the value may hold messages or statuses);
                # an explicit other field stays ignored.
                kind = "messages"
            if not isinstance(value, dict) or kind not in FIELDS:
                envelope.ignored += 1
                continue
            if kind == "message_template_status_update":
                try:
                    envelope.items.append(template_status_parse(value, waba_id=waba_id))
                except ValueError:
                    logger.warning("malformed template status skipped: %.200r", value)
                    envelope.malformed += 1
                continue
            metadata = value.get("metadata") if isinstance(value.get("metadata"), dict) else {}
            phone_number_id = _str(metadata.get("phone_number_id"), 64)
            if kind == "messages" and phone_number_id and waba_id.isdigit():
                envelope.accounts[phone_number_id] = waba_id
            if kind == "user_preferences":
                for raw in value.get("user_preferences") or []:
                    try:
                        envelope.items.append(user_preference_parse(raw, phone_number_id=phone_number_id))
                    except ValueError:
                        logger.warning("malformed user preference skipped: %.200r", raw)
                        envelope.malformed += 1
                continue
            contacts = value.get("contacts") if isinstance(value.get("contacts"), list) else []
            profile_names = {
                _wa_id(c.get("wa_id")): _str((c.get("profile") or {}).get("name"), 200)
                for c in contacts
                if isinstance(c, dict) and isinstance(c.get("profile"), dict)
            }
            for error in value.get("errors") or []:
                logger.warning("provider reported an error for number %s: %s", phone_number_id, error)
            for raw in value.get("messages") or []:
                try:
                    envelope.items.append(
                        message_parse(raw, phone_number_id=phone_number_id, profile_names=profile_names)
                    )
                except ValueError:
                    logger.warning("malformed message item skipped: %.200r", raw)
                    envelope.malformed += 1
            for raw in value.get("statuses") or []:
                try:
                    envelope.items.append(status_parse(raw, phone_number_id=phone_number_id))
                except ValueError:
                    logger.warning("malformed status item skipped: %.200r", raw)
                    envelope.malformed += 1
    return envelope


def provider_event_receive(
    *, body: bytes, signature: str, enqueue: bool = True, countdown: float | None = None
) -> ProviderEvent:
    """Stores a verified webhook body (one INSERT) and enqueues its processing after commit."""
    event = ProviderEvent.objects.create(body=body, signature=signature[:100])
    if enqueue:
        if countdown:
            transaction.on_commit(
                lambda: tasks.provider_event_process_task.apply_async((event.pk,), countdown=countdown)
            )
        else:
            tasks.provider_event_process_task.delay_on_commit(event.pk)
    return event


@dataclass(frozen=True)
class ProcessResult:
    items: int
    unrouted: int
    failed: int
    malformed: int


def provider_event_process(*, event_id: int) -> ProcessResult | None:
    """Routes every item of a stored webhook to its company and applies it there.

    Call in the public schema, outside any transaction. Does nothing for an event already
    processed; a re-run of an unfinished one re-applies idempotently.
    """
    from inbox.services import messages

    # The UPDATE before the read: it waits for a contact erasure that is cleaning this body
    # (inbox/services/privacy.py locks the row), so the body read is the cleaned one.
    if not ProviderEvent.objects.filter(pk=event_id, processed_at__isnull=True).update(attempts=F("attempts") + 1):
        return None
    event = ProviderEvent.objects.get(pk=event_id)
    try:
        envelope = envelope_parse(bytes(event.body))
    except EnvelopeInvalidError as exc:
        logger.warning("provider event %s failed: %s", event_id, exc)
        ProviderEvent.objects.filter(pk=event_id).update(processed_at=timezone.now(), error=str(exc)[:1000])
        return ProcessResult(items=0, unrouted=0, failed=0, malformed=0)

    by_number: dict[str, list[InboundItem]] = defaultdict(list)
    by_account: dict[str, list[InboundItem]] = defaultdict(list)
    for item in envelope.items:
        if isinstance(item, TemplateStatus):
            by_account[item.waba_id].append(item)
        else:
            by_number[item.phone_number_id].append(item)
    numbers = {*by_number, *envelope.accounts}
    route_rows = list(PhoneNumberRoute.objects.filter(phone_number_id__in=list(numbers)).select_related("company"))
    _accounts_learn(route_rows, envelope.accounts)
    routes = {r.phone_number_id: r.company for r in route_rows}
    by_company: dict[int, tuple[Company, list[InboundItem]]] = {}
    unrouted = 0
    for phone_number_id, items in by_number.items():
        company = routes.get(phone_number_id)
        if company is None:
            unrouted += len(items)
            logger.info("provider event %s: %d item(s) for unknown number %r", event_id, len(items), phone_number_id)
            continue
        by_company.setdefault(company.pk, (company, []))[1].extend(items)
    owners: dict[str, dict[int, Company]] = defaultdict(dict)
    for route in PhoneNumberRoute.objects.filter(waba_id__in=list(by_account)).select_related("company"):
        owners[route.waba_id][route.company.pk] = route.company
    for waba_id, items in by_account.items():
        if not owners[waba_id]:
            unrouted += len(items)
            logger.info("provider event %s: %d item(s) for unknown account %r", event_id, len(items), waba_id)
        # Templates belong to the account: every company with a number in it shares them.
        for company in owners[waba_id].values():
            by_company.setdefault(company.pk, (company, []))[1].extend(items)

    failed = 0
    for company, items in by_company.values():
        with schema_context(company.schema_name):
            failed += messages.inbound_items_apply(items=items)

    problems = []
    if failed:
        problems.append(f"{failed} item(s) failed")
    if envelope.malformed:
        problems.append(f"{envelope.malformed} malformed item(s) skipped")
    ProviderEvent.objects.filter(pk=event_id).update(
        processed_at=timezone.now(),
        item_count=len(envelope.items),
        unrouted_count=unrouted,
        error="; ".join(problems),
    )
    return ProcessResult(items=len(envelope.items), unrouted=unrouted, failed=failed, malformed=envelope.malformed)


def _accounts_learn(routes: list[PhoneNumberRoute], accounts: dict[str, str]) -> None:
    """Records the account a routed number's signed webhooks came under, when it changed."""
    for route in routes:
        waba_id = accounts.get(route.phone_number_id)
        if waba_id and route.waba_id != waba_id:
            PhoneNumberRoute.objects.filter(pk=route.pk).update(waba_id=waba_id)
            route.waba_id = waba_id


def provider_events_requeue(*, older_than_seconds: int = 300, limit: int = 1000) -> int:
    """Enqueues processing again for stored events still unprocessed (the broker was down)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    ids = list(
        ProviderEvent.objects.filter(processed_at__isnull=True, received_at__lt=cutoff)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    for event_id in ids:
        tasks.provider_event_process_task.delay_on_commit(event_id)
    return len(ids)


def provider_events_purge(*, now: datetime | None = None, batch: int = 5000) -> int:
    """Deletes stored webhook bodies processed more than PROVIDER_EVENT_RETENTION_DAYS ago.

    The raw bodies hold customers' messages, so they are kept only as long as they may be
    needed to reprocess (a bug found, a company's backfill), not for ever; their content
    lives on in the companies' own tables, under each company's retention. A body never
    processed is kept whatever its age (the requeue task still owes it a run). Deleted in
    batches of `batch` rows by primary key, each its own statement, so no long lock and no
    huge transaction. Returns how many were deleted.
    """
    days = int(settings.PROVIDER_EVENT_RETENTION_DAYS)
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    while True:
        ids = list(
            ProviderEvent.objects.filter(received_at__lt=cutoff, processed_at__isnull=False)
            .order_by("id")
            .values_list("id", flat=True)[:batch]
        )
        if not ids:
            return deleted
        deleted += ProviderEvent.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < batch:
            return deleted
