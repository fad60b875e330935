"""The provider interface: send a message, upload and fetch media.

Two implementations: `whatsapp_cloud` (HTTP, the Cloud API shape) and `sandbox` (offline,
the default when WHATSAPP_API_BASE is empty). Both raise the exceptions of
`inbox.providers.errors`; callers never see httpx.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass
from typing import Any

from inbox.models import Message, PhoneNumber

PARAM_RE = re.compile(r"\{\{\s*([\w]+)\s*\}\}")


@dataclass(frozen=True)
class Accepted:
    """The provider took the message; delivery comes later by status webhook."""

    wamid: str
    message_status: str = "accepted"


@dataclass(frozen=True)
class MediaInfo:
    """What the provider says about a media id: a short-lived download URL, type and size."""

    url: str
    mime_type: str
    file_size: int | None


class MediaTooLargeError(Exception):
    pass


class Provider(abc.ABC):
    name: str

    @abc.abstractmethod
    def send(self, message: Message) -> Accepted:
        """Sends an outbound message (thread, contact and number loaded); returns the wamid."""

    @abc.abstractmethod
    def media_info(self, *, phone_number: PhoneNumber, media_id: str) -> MediaInfo:
        """Looks a received media id up."""

    @abc.abstractmethod
    def media_download(self, *, phone_number: PhoneNumber, info: MediaInfo, max_bytes: int) -> bytes:
        """Downloads the file; raises MediaTooLargeError past `max_bytes` without reading on."""


def provider_get() -> Provider:
    """The configured provider: `whatsapp_cloud` when WHATSAPP_API_BASE is set, else `sandbox`."""
    from django.conf import settings

    from inbox.providers import sandbox, whatsapp_cloud

    if settings.WHATSAPP_API_BASE:
        return whatsapp_cloud.WhatsAppCloudProvider()
    return sandbox.SandboxProvider()


def template_parameters_list(parameters: Any) -> list[dict[str, Any]]:
    """Body parameters in the Cloud API shape: a list is positional, a dict is named."""
    if isinstance(parameters, dict):
        return [{"type": "text", "parameter_name": str(k), "text": str(v)} for k, v in parameters.items()]
    return [{"type": "text", "text": str(v)} for v in parameters or []]


def template_render(body: str, parameters: Any) -> str:
    """The template's text with its parameters filled in, as the customer will read it."""
    if isinstance(parameters, dict):
        values = {str(k): str(v) for k, v in parameters.items()}
    else:
        values = {str(i): str(v) for i, v in enumerate(parameters or [], start=1)}
    return PARAM_RE.sub(lambda m: values.get(m.group(1), m.group(0)), body)


def message_body(message: Message, *, media_id: str = "") -> dict[str, Any]:
    """The Cloud API request body for an outbound message (whatsapp-platform.md §2.2-2.3).

    `biz_opaque_callback_data` carries our public id: a status webhook reconciles a send
    whose answer was lost (outcome `unknown`) even before the wamid is known.
    """
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": message.thread.contact.phone,
        "type": message.type,
        "biz_opaque_callback_data": str(message.public_id),
    }
    if message.context_wamid:
        body["context"] = {"message_id": message.context_wamid}
    if message.type == Message.Type.TEXT:
        body["text"] = {"body": message.text, "preview_url": "http://" in message.text or "https://" in message.text}
    elif message.type == Message.Type.TEMPLATE:
        template: dict[str, Any] = {
            "name": message.template_name,
            "language": {"code": message.template_language, "policy": "deterministic"},
        }
        if message.template_parameters:
            template["components"] = [
                {"type": "body", "parameters": template_parameters_list(message.template_parameters)}
            ]
        button = (message.payload or {}).get("verify_button")
        if button:  # the signed verify link fills the template's URL button (docs/identity.md)
            template.setdefault("components", []).append(
                {"type": "button", "sub_type": "url", "index": str(button["index"]),
                 "parameters": [{"type": "text", "text": button["suffix"]}]}
            )  # fmt: skip
        body["template"] = template
    elif message.type in (Message.Type.IMAGE, Message.Type.DOCUMENT):
        media: dict[str, Any] = {"id": media_id} if media_id else {"link": message.payload.get("link", "")}
        if message.text:
            media["caption"] = message.text
        if message.type == Message.Type.DOCUMENT and message.media_filename:
            media["filename"] = message.media_filename
        body[message.type] = media
    elif message.type == Message.Type.INTERACTIVE:
        # Session interactive messages we compose (the CSAT rating list): stored ready to send.
        body["interactive"] = message.payload["interactive"]
    else:
        raise ValueError(f"cannot send a message of type {message.type!r}")
    return body
