"""The offline provider: accepts sends locally and plays the platform's answers back.

It issues `wamid.`-style ids and, like the real platform, reports delivery later by
webhook: a real Cloud API payload (`statuses[]` sent → delivered → read) is stored as a
ProviderEvent and processed by the same task as a POST to `/webhooks/whatsapp/`, so the
sandbox exercises the production path. It also applies the platform's rules the way the
real API answers them (whatsapp-platform.md §2.5, §3.1-3.3): a template that is not
approved is refused at once (132001, or 132015 when paused); a free-form message outside
the 24-hour window and a marketing template to a customer who stopped marketing are
accepted, then reported `failed` (131047, 131050). `customer_says` plays an inbound message the same
way (for demos: `manage.py sandbox_customer_says`). Received media ids are answered with
small files generated here (a PNG, a PDF), so media works offline too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
import time
import zlib
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from inbox.models import Message, PhoneNumber, Template
from inbox.providers.base import Accepted, MediaInfo, MediaTooLargeError, Provider
from inbox.providers.errors import ERROR_EXPLANATIONS, MARKETING_OPT_OUT_CODE, WINDOW_CLOSED_CODE, ProviderError

# Seconds after the send at which each status arrives (compressed real life).
STATUS_DELAYS = (("sent", 1.0), ("delivered", 2.5), ("read", 6.0))
FAILED_DELAY = 1.0
# The platform's own window: no safety margin (that is ours, inbox.window).
PLATFORM_WINDOW = timedelta(hours=24)
TEMPLATE_NOT_FOUND_CODE = 132001
TEMPLATE_PAUSED_CODE = 132015
ASYNC_DETAILS = {
    WINDOW_CLOSED_CODE: "Message failed to send because more than 24 hours have passed since the customer "
    "last replied to this number.",
    MARKETING_OPT_OUT_CODE: "Message failed to send because the user has stopped marketing messages.",
}
SAMPLE_URL = "sandbox://media/"


def wamid_new() -> str:
    return "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18\x12" + secrets.token_bytes(18)).decode()


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


def sandbox_waba_id(phone_number_id: str) -> str:
    """The sandbox's business account id for a number: `88` and the number id's digits.

    An id that is not all digits (`Test-Number_01.eu`) takes digits of its hash instead:
    two such numbers must not share an account, or a template-status webhook for one would
    reach the other's company.
    """
    if phone_number_id.isdigit():
        return "88" + phone_number_id[-13:]
    return "88" + str(int(hashlib.sha256(phone_number_id.encode()).hexdigest(), 16))[-13:]


def envelope_build(
    *,
    phone_number_id: str,
    display_phone_number: str = "",
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    waba_id: str = "",
) -> dict[str, Any]:
    """A webhook body in the Cloud API's shape (whatsapp-platform.md §1.2, §1.9).

    `entry.id` is the business account: by default one per number (`sandbox_waba_id`), so
    sandbox companies never share an account.
    """
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": _digits(display_phone_number), "phone_number_id": phone_number_id},
    }
    if contacts:
        value["contacts"] = contacts
    if messages:
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": waba_id or sandbox_waba_id(phone_number_id), "changes": [{"field": "messages", "value": value}]}
        ],
    }


def status_item(
    *, wamid: str, status: str, recipient: str, callback_data: str = "", at: float | None = None, **extra: Any
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(at or time.time())),
        "recipient_id": _digits(recipient),
    }
    if callback_data:
        item["biz_opaque_callback_data"] = callback_data
    if status in ("sent", "delivered"):
        item["pricing"] = {"billable": False, "pricing_model": "PMP", "type": "free_customer_service",
                           "category": "service"}  # fmt: skip
    item.update(extra)
    return item


def error_item(code: int, details: str = "") -> dict[str, Any]:
    """One `errors[]` object of a failed status, in the platform's shape."""
    title = ERROR_EXPLANATIONS.get(code, ("Provider error", ""))[0]
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or title},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }


def text_message_item(*, sender: str, text: str, wamid: str = "", at: float | None = None) -> dict[str, Any]:
    return {
        "from": _digits(sender),
        "id": wamid or wamid_new(),
        "timestamp": str(int(at or time.time())),
        "type": "text",
        "text": {"body": text},
    }


def body_encode(payload: dict[str, Any]) -> bytes:
    """The platform's wire form: compact JSON, non-ASCII escaped (what it signs)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def _feed(payload: dict[str, Any], *, countdown: float | None) -> None:
    from tenants import inbound

    # The processor routes by phone_number_id from the public schema, like a real POST.
    with schema_context(get_public_schema_name()):
        inbound.provider_event_receive(body=body_encode(payload), signature="sandbox", countdown=countdown)


def customer_says(*, phone_number: PhoneNumber, sender: str, text: str, profile_name: str = "") -> str:
    """Plays an inbound text from `sender` (E.164) to our number; returns its wamid.

    Stored and processed like a webhook POST. Call it in the company's schema or any other.
    """
    from tenants import inbound

    item = text_message_item(sender=sender, text=text)
    contacts = [{"profile": {"name": profile_name}, "wa_id": _digits(sender)}] if profile_name else None
    payload = envelope_build(
        phone_number_id=phone_number.phone_number_id,
        display_phone_number=phone_number.display_number,
        messages=[item],
        contacts=contacts,
    )
    with schema_context(get_public_schema_name()):
        event = inbound.provider_event_receive(body=body_encode(payload), signature="sandbox", enqueue=False)
        inbound.provider_event_process(event_id=event.pk)
    return str(item["id"])


# Share of a broadcast's recipients who read it in the sandbox (chosen by wamid, so a replay
# of the same statuses decides the same way): a real audience never reads everything, and
# a demo follow-up "to those who have not read it" needs someone left to send to.
BULK_READ_SHARE = 0.7


def bulk_statuses_play(*, phone_number_id: str, sent: list[tuple[str, str, str]]) -> None:
    """Plays the status webhooks of a batch of broadcast sends: (wamid, to, callback data) each.

    One Cloud-API-shaped envelope per stage (sent, delivered, read) carrying the whole
    batch, stored and processed like a POST to /webhooks/whatsapp/ after the same delays
    as single sends, so broadcast progress moves through the production status path.
    """
    number = PhoneNumber.objects.filter(phone_number_id=phone_number_id).values_list("display_number", flat=True)
    display = number.first() or ""
    now = time.time()
    for status, delay in STATUS_DELAYS:
        batch = sent
        if status == "read":
            batch = [s for s in sent if zlib.crc32(s[0].encode()) % 1000 < BULK_READ_SHARE * 1000]
        if not batch:
            continue
        payload = envelope_build(
            phone_number_id=phone_number_id,
            display_phone_number=display,
            statuses=[
                status_item(wamid=wamid, status=status, recipient=to, callback_data=callback, at=now + delay)
                for wamid, to, callback in batch
            ],
        )
        _feed(payload, countdown=delay)


def sample_png() -> bytes:
    """A 16x16 solid PNG, built by hand (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x25\x63\xeb" * 16 for _ in range(16))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def sample_pdf() -> bytes:
    """A one-page PDF that says hello."""
    stream = b"BT /F1 18 Tf 40 100 Td (Kontakt sandbox document) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 200] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def _sample_for(media_id: str) -> tuple[bytes, str]:
    if "document" in media_id or "pdf" in media_id:
        return sample_pdf(), "application/pdf"
    return sample_png(), "image/png"


def _template_check(message: Message) -> Template | None:
    """The template a send names; raises the platform's synchronous refusal when unusable."""
    if message.type != Message.Type.TEMPLATE:
        return None
    template = Template.objects.filter(name=message.template_name, language=message.template_language).first()
    if template is not None and template.status == Template.Status.PAUSED:
        raise ProviderError(code=TEMPLATE_PAUSED_CODE, http_status=400)
    if template is None or template.status != Template.Status.APPROVED:
        raise ProviderError(
            code=TEMPLATE_NOT_FOUND_CODE,
            detail=f"template name ({message.template_name}) does not exist in {message.template_language}",
            http_status=404,
        )
    return template


def _late_failure(message: Message, template: Template | None) -> int | None:
    """The code of a send the platform accepts and then reports `failed`, if any."""
    if template is not None:
        marketing = template.category == Template.Category.MARKETING
        return MARKETING_OPT_OUT_CODE if marketing and message.thread.contact.marketing_opted_out else None
    last_inbound = message.thread.last_inbound_at
    if last_inbound is None or timezone.now() >= last_inbound + PLATFORM_WINDOW:
        return WINDOW_CLOSED_CODE
    return None


class SandboxProvider(Provider):
    name = "sandbox"

    def send(self, message: Message) -> Accepted:
        template = _template_check(message)
        wamid = wamid_new()
        failure = _late_failure(message, template)
        now = time.time()
        if failure is not None:
            plan: list[tuple[str, float, dict[str, Any]]] = [
                ("failed", FAILED_DELAY, {"errors": [error_item(failure, ASYNC_DETAILS.get(failure, ""))]})
            ]
        else:
            plan = [(status, delay, {}) for status, delay in STATUS_DELAYS]
        phone_number = message.thread.phone_number
        for status, delay, extra in plan:
            payload = envelope_build(
                phone_number_id=phone_number.phone_number_id,
                display_phone_number=phone_number.display_number,
                statuses=[
                    status_item(
                        wamid=wamid,
                        status=status,
                        recipient=message.thread.contact.phone,
                        callback_data=str(message.public_id),
                        at=now + delay,
                        **extra,
                    )
                ],
            )
            _feed(payload, countdown=delay)
        return Accepted(wamid=wamid)

    def media_info(self, *, phone_number: PhoneNumber, media_id: str) -> MediaInfo:
        content, mime = _sample_for(media_id)
        return MediaInfo(url=SAMPLE_URL + media_id, mime_type=mime, file_size=len(content))

    def media_download(self, *, phone_number: PhoneNumber, info: MediaInfo, max_bytes: int) -> bytes:
        content, _ = _sample_for(info.url.removeprefix(SAMPLE_URL))
        if len(content) > max_bytes:
            raise MediaTooLargeError(f"more than {max_bytes} bytes")
        return content
