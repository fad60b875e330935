"""Media files uploaded for a later send (`POST /uploads/` → `POST /messages/` `media.upload_id`).

A file's type is read from its first bytes (never only from the client's name or header)
and must be one the channel takes for an outbound image or document (`SEND_MIME_TYPES` of
inbox.services.messages); its size is checked against the channel's limit for that kind
(inbox.services.media), lowered by the optional `MEDIA_UPLOAD_MAX_BYTES` setting. Files are
stored like the inbox's attachments. Sending copies the file into the message, so an upload
is never needed afterwards: uploads older than MEDIA_UPLOAD_RETENTION_HOURS are deleted by
`media_uploads_purge` (beat, hourly, per company).
"""

from __future__ import annotations

import codecs
import logging
import mimetypes
import zipfile
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiKey
from inbox.models import MediaUpload
from inbox.services import media
from inbox.services.messages import SEND_MIME_TYPES
from inbox.services.uploads import UploadTooLargeError

logger = logging.getLogger(__name__)

# Where no setting says otherwise (like inbox.services.uploads.DEFAULTS).
MEDIA_UPLOAD_RETENTION_HOURS = 24
MEDIA_KINDS = {mime: kind for kind, mimes in SEND_MIME_TYPES.items() for mime in mimes}
# Office 97-2003 files share one container (OLE2); the name, else the stream names inside, tell which.
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
OLE2_STREAMS = {
    "application/msword": "WordDocument",
    "application/vnd.ms-excel": "Workbook",
    "application/vnd.ms-powerpoint": "PowerPoint Document",
}
# Office 2007+ files are ZIP packages; their main part tells which.
OOXML_PARTS = {
    "word/document.xml": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xl/workbook.xml": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt/presentation.xml": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
HEAD_BYTES = 64 * 1024

MEDIA_EMPTY = _("The file is empty.")
MEDIA_TYPE_REFUSED = _(
    "This file type cannot be uploaded: upload a CSV audience, a JPEG or PNG image, or a PDF, Word, Excel, "
    "PowerPoint or plain text (UTF-8) document. The type is read from the file's content, not its name."
)
MEDIA_TOO_LARGE = {
    "image": _("The file is {size} MB; images can be at most {limit} MB."),
    "document": _("The file is {size} MB; documents can be at most {limit} MB."),
}


def media_upload_max_bytes(kind: str) -> int:
    """The channel's limit for an image or a document, lowered by MEDIA_UPLOAD_MAX_BYTES if set."""
    limit = media.media_max_bytes(kind)
    cap = getattr(settings, "MEDIA_UPLOAD_MAX_BYTES", None)
    return min(limit, int(cap)) if cap else limit


def media_upload_retention() -> timedelta:
    return timedelta(hours=int(getattr(settings, "MEDIA_UPLOAD_RETENTION_HOURS", MEDIA_UPLOAD_RETENTION_HOURS)))


def media_filename(name: str, mime_type: str) -> str:
    """`name` (its folders dropped) with the extension of `mime_type` when its own says another
    type: "scan" → "scan.pdf", "photo.png" holding a JPEG → "photo.jpg". Sending reads the
    type from the name (inbox.services.messages), so name and content must agree."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "file"
    if mimetypes.guess_type(name)[0] == mime_type:
        return name[-255:]
    stem, dot, _ = name.rpartition(".")
    if not dot or not stem or mimetypes.guess_type(name)[0] is None:
        stem = name  # no extension, or not one of a known type: keep the whole name
    suffix = media.EXTENSIONS.get(mime_type) or mimetypes.guess_extension(mime_type) or ""
    return stem[: 255 - len(suffix)] + suffix


def media_type_detect(file: UploadedFile) -> str | None:
    """The MIME type of `file` from its content, if it is one the channel sends; else None.

    Signatures: JPEG, PNG, PDF; Office 97-2003 (OLE2: the name's extension, else the
    streams named inside); Office 2007+ (ZIP: the package's main part). Plain text is
    taken only when the client calls it text (`.txt` or `text/plain`) and it is UTF-8
    without NUL bytes throughout.
    """
    file.seek(0)
    head = file.read(HEAD_BYTES)
    file.seek(0)
    claimed = mimetypes.guess_type(file.name or "")[0] or ""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if b"%PDF-" in head[:1024]:
        return "application/pdf"
    if head.startswith(OLE2):
        if claimed in OLE2_STREAMS:
            return claimed
        for mime, stream in OLE2_STREAMS.items():
            if stream.encode("utf-16-le") in head:
                return mime
        return None
    if head.startswith(b"PK\x03\x04"):
        return _ooxml_type(file)
    if "text/plain" in (claimed, content_type_base(file.content_type)) and _is_utf8_text(file):
        return "text/plain"
    return None


def media_upload_create(*, file: UploadedFile, api_key: ApiKey | None) -> MediaUpload:
    """Stores a media file for a later send (module doc). Raises ValidationError for a file that
    cannot be sent, UploadTooLargeError (a ValidationError) for one over its limit."""
    if not file.size:
        raise ValidationError({"file": [MEDIA_EMPTY]})
    mime_type = media_type_detect(file)
    if mime_type is None or mime_type not in MEDIA_KINDS:
        raise ValidationError({"file": [MEDIA_TYPE_REFUSED]})
    kind = MEDIA_KINDS[mime_type]
    limit = media_upload_max_bytes(kind)
    if file.size > limit:
        message = MEDIA_TOO_LARGE[kind].format(size=megabytes(file.size, up=True), limit=megabytes(limit))
        raise UploadTooLargeError({"file": [message]})
    upload = MediaUpload(
        filename=media_filename(file.name or "", mime_type), mime_type=mime_type, size=file.size, api_key=api_key
    )
    path = f"{connection.schema_name}/uploads/{upload.public_id.hex}/{upload.filename[-100:]}"
    upload.file.save(path, file, save=False)
    upload.save()
    return upload


def media_uploads_purge(*, batch: int = 500) -> int:
    """Deletes the uploads older than the retention, files first; answers how many.

    Call in the company's schema. Nothing else refers to an upload (a sent message has its
    own copy of the file), so every old one goes. A file already gone is fine; a failure
    to delete one keeps its row for the next run.
    """
    cutoff = timezone.now() - media_upload_retention()
    deleted = 0
    while True:
        old = list(MediaUpload.objects.filter(created_at__lt=cutoff).order_by("pk")[:batch])
        if not old:
            return deleted
        done = []
        for upload in old:
            try:
                if upload.file:
                    upload.file.storage.delete(upload.file.name)
            except OSError:
                logger.exception("media upload %s: its file could not be deleted", upload.pk)
                continue
            done.append(upload.pk)
        deleted += MediaUpload.objects.filter(pk__in=done).delete()[0]
        if len(done) < len(old):
            return deleted  # the rest is retried next time rather than looped over now


def _ooxml_type(file: UploadedFile) -> str | None:
    try:
        with zipfile.ZipFile(file) as package:
            names = set(package.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    finally:
        file.seek(0)
    if "[Content_Types].xml" not in names:
        return None
    found = [mime for part, mime in OOXML_PARTS.items() if part in names]
    return found[0] if len(found) == 1 else None


def _is_utf8_text(file: UploadedFile) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for chunk in file.chunks():
            if b"\x00" in chunk:
                return False
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        file.seek(0)
    return True


def megabytes(size: int, *, up: bool = False) -> str:
    """Megabytes for a message: whole when exact, else one decimal (rounded up for a size, so a
    file just over a limit never reads as the limit itself)."""
    tenths = -(-size * 10 // media.MB) if up else size * 10 // media.MB
    return str(tenths // 10) if tenths % 10 == 0 else f"{tenths / 10:.1f}"


def content_type_base(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()
