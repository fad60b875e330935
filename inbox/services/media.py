"""Media of received messages: downloaded from the provider into Django storage.

Two Graph calls, as the platform wants: GET /{media-id} (Bearer token) answers a
short-lived URL with its MIME type and size; GET that URL (same token) gives the bytes.
Limits are checked on the announced size before downloading and again while streaming.

Limits (the platform's own, whatsapp-platform.md §1.3 and Meta's media reference):
documents up to 100 MB, everything else up to 16 MB; only the MIME types the platform
accepts are kept. A refused or failed file leaves the message with `media_status=failed`
and the reason in `error_detail`; the message itself stays.
"""

from __future__ import annotations

import logging
import mimetypes

from django.core.files.base import ContentFile
from django.db import connection, transaction

from inbox.models import Message
from inbox.providers.base import MediaTooLargeError, provider_get
from inbox.providers.errors import ProviderError

logger = logging.getLogger(__name__)

MB = 1024 * 1024
MAX_BYTES = {"document": 100 * MB}
DEFAULT_MAX_BYTES = 16 * MB
ALLOWED_MIME_TYPES = frozenset(
    {
        "image/jpeg", "image/png", "image/webp",
        "audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg",
        "video/mp4", "video/3gpp",
        "application/pdf", "text/plain", "application/msword", "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    }
)  # fmt: skip
EXTENSIONS = {"image/jpeg": ".jpg", "audio/ogg": ".ogg", "audio/mpeg": ".mp3", "text/plain": ".txt"}


class MediaRetryError(Exception):
    """The provider was unreachable or busy: try the download again later."""


def media_max_bytes(message_type: str) -> int:
    return MAX_BYTES.get(message_type, DEFAULT_MAX_BYTES)


def _base_mime(mime: str) -> str:
    # "audio/ogg; codecs=opus" is an ogg file.
    return mime.split(";", 1)[0].strip().lower()


def _refuse(message: Message, reason: str) -> Message:
    logger.info("media of message %s refused: %s", message.pk, reason)
    Message.objects.filter(pk=message.pk).update(media_status=Message.MediaStatus.FAILED, error_detail=reason)
    message.media_status = Message.MediaStatus.FAILED
    message.error_detail = reason
    return message


def media_fetch(*, message_id: int, final_attempt: bool = False) -> Message | None:
    """Downloads a received message's media into storage; None when nothing is pending.

    Call in the company's schema, outside any transaction (two HTTP calls). Raises
    MediaRetryError on a transient failure unless `final_attempt`.
    """
    message = (
        Message.objects.select_related("thread__phone_number")
        .filter(pk=message_id, media_status=Message.MediaStatus.PENDING)
        .first()
    )
    if message is None or not message.media_id:
        return None
    limit = media_max_bytes(message.type)
    provider = provider_get()
    phone_number = message.thread.phone_number
    try:
        info = provider.media_info(phone_number=phone_number, media_id=message.media_id)
        mime = _base_mime(info.mime_type or message.media_mime_type)
        if mime not in ALLOWED_MIME_TYPES:
            return _refuse(message, f"File type {mime or 'unknown'} is not accepted.")
        if info.file_size is not None and info.file_size > limit:
            return _refuse(message, f"File of {info.file_size} bytes is over the limit of {limit} bytes.")
        content = provider.media_download(phone_number=phone_number, info=info, max_bytes=limit)
    except MediaTooLargeError:
        return _refuse(message, f"File is over the limit of {limit} bytes.")
    except ProviderError as exc:
        if exc.retryable and not final_attempt:
            raise MediaRetryError(str(exc)) from exc
        return _refuse(message, f"Download failed: {exc}")
    extension = EXTENSIONS.get(mime) or mimetypes.guess_extension(mime) or ""
    name = message.media_filename or f"{message.media_id}{extension}"
    path = f"{connection.schema_name}/{message.public_id}/{name.rsplit('/', 1)[-1]}"
    with transaction.atomic():
        locked = Message.objects.select_for_update().filter(pk=message.pk, media_status=Message.MediaStatus.PENDING)
        if locked.first() is None:
            return None
        message.media_file.save(path, ContentFile(content), save=False)
        Message.objects.filter(pk=message.pk).update(
            media_file=message.media_file.name, media_mime_type=mime, media_status=Message.MediaStatus.READY
        )
    message.media_mime_type = mime
    message.media_status = Message.MediaStatus.READY
    return message
