"""`POST /uploads/`: CSV audiences for broadcasts and media files for messages (design/API.md).

One endpoint, two kinds, told apart by the file:

- a CSV (`text/csv`, or a name ending in `.csv`) is a broadcast audience. It answers 201
  `{"kind": "csv", "id", "rows", "errors", …}`; the id goes into a broadcast's audience as
  `{"type": "csv", "upload_id": <id>}`. The format and the consent rule are in
  inbox.services.uploads and docs/broadcasts.md.
- any other file is a media file to send with `POST /messages/` as `media.upload_id`. Its
  type is read from its first bytes (never only from the client's name or header) and must
  be one the channel takes for an outbound image or document (`SEND_MIME_TYPES` of
  inbox.services.messages); its size is checked against the channel's limit for that kind
  (inbox.services.media), lowered by the optional `MEDIA_UPLOAD_MAX_BYTES` setting. It is
  stored like the inbox's attachments and answers 201 `{"kind": "media", "id", "filename",
  "mime_type", "size", "created_at"}`. Sending copies the file into the message, so the
  upload is never needed afterwards; uploads older than MEDIA_UPLOAD_RETENTION_HOURS are
  deleted by `media_uploads_purge` (beat, hourly, per company).

`Idempotency-Key` works as everywhere (the file counts by its content). Without one,
repeating a CSV upload is harmless too: contacts are matched by phone and an opt-in is
recorded only for a contact not opted in yet, so a second upload of the same file only
makes a second, identical upload object; a media file uploaded twice is stored twice.
"""

from __future__ import annotations

import codecs
import logging
import mimetypes
import zipfile
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey
from config.api import ApiError, ErrorSerializer, error_responses
from inbox.api import idempotency
from inbox.models import MediaUpload, Message
from inbox.representations import iso
from inbox.services import media, uploads
from inbox.services.messages import SEND_MIME_TYPES

logger = logging.getLogger(__name__)

FILE_REQUIRED = _("Send the file as the multipart field `file`: a CSV audience, an image or a document.")
NOTHING_IMPORTED = _("No line of the file could be imported; see `details.lines`.")
# Multipart framing around the file: a request this much over the file limit is refused
# before its body is read.
ENVELOPE_BYTES = 64 * 1024

CSV_CONTENT_TYPES = frozenset({"text/csv", "application/csv", "text/comma-separated-values"})
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
REQUEST_TOO_LARGE = _(
    "The upload is over {limit} MB, the most any upload can be (CSV audiences {csv} MB, images {image} MB, "
    "documents {document} MB)."
)


@extend_schema_serializer(component_name="UploadLineError")
class UploadLineErrorObject(serializers.Serializer[Any]):
    line = serializers.IntegerField(help_text="The line of the file, counting the header as line 1.")
    message = serializers.CharField()


@extend_schema_serializer(component_name="Upload")
class UploadObject(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["csv"], help_text="`csv`: a broadcast audience.")
    id = serializers.UUIDField(help_text='Use it as a broadcast audience: `{"type": "csv", "upload_id": <id>}`.')
    rows = serializers.IntegerField(help_text="Lines imported: one recipient each.")
    errors = UploadLineErrorObject(many=True, help_text="Lines left out, by line (the first 1,000).")
    error_count = serializers.IntegerField(help_text="All lines left out.")
    columns = serializers.ListField(
        child=serializers.CharField(), help_text="The variable columns a broadcast parameter can name."
    )
    opt_ins_recorded = serializers.IntegerField(help_text="Opt-ins recorded from the `opt_in` column.")
    file_name = serializers.CharField()
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="MediaUpload")
class MediaUploadObject(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=["media"], help_text="`media`: a file to send in a message.")
    id = serializers.UUIDField(
        help_text=(
            "Send it with `POST /messages/` as `media.upload_id`, as an `image` (JPEG, PNG) or a `document` "
            "(the rest). Kept for `MEDIA_UPLOAD_RETENTION_HOURS` (24 h by default)."
        )
    )
    filename = serializers.CharField(
        help_text="The uploaded file's name, its extension made to match `mime_type` (a document's name when sent)."
    )
    mime_type = serializers.CharField(help_text="The type read from the file's content, e.g. `image/png`.")
    size = serializers.IntegerField(help_text="Bytes.")
    created_at = serializers.DateTimeField()


UPLOAD_RESULT = PolymorphicProxySerializer(
    component_name="UploadResult",
    serializers={"csv": UploadObject, "media": MediaUploadObject},
    resource_type_field_name="kind",
)


class UploadCreateApi(APIView):
    parser_classes = [MultiPartParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """After authentication, before the body is read: a request over every limit is refused
        without spooling it to disk (the kind of file is not known yet)."""
        super().initial(request, *args, **kwargs)
        csv_limit = uploads.conf("AUDIENCE_UPLOAD_MAX_BYTES")
        limits = {kind: media_upload_max_bytes(kind) for kind in (Message.Type.IMAGE, Message.Type.DOCUMENT)}
        limit = max(csv_limit, *limits.values())
        if _content_length(request) > limit + ENVELOPE_BYTES:
            raise ApiError(
                413,
                "too_large",
                REQUEST_TOO_LARGE.format(
                    limit=_mb(limit), csv=_mb(csv_limit), image=_mb(limits["image"]), document=_mb(limits["document"])
                ),
            )

    @extend_schema_serializer(component_name="UploadCreateInput")
    class InputSerializer(serializers.Serializer[Any]):
        file = serializers.FileField(
            allow_empty_file=True,  # the service says "The file is empty." like for a blank one
            help_text=(
                "A CSV audience (`text/csv` or a `.csv` name): UTF-8 CSV (comma or semicolon), a header row with a "
                "`phone` column; optional `opt_in` (yes/true/1); every other column is a per-recipient variable. "
                "Or a media file to send in a message: a JPEG or PNG image (up to 16 MB), or a PDF, Word, Excel, "
                "PowerPoint or plain text document (up to 100 MB)."
            ),
        )

    @extend_schema(
        operation_id="uploads_create",
        summary="Upload a CSV audience or a media file",
        description=(
            "A CSV (`text/csv` or a `.csv` name) is a broadcast audience (`kind: csv`), imported whole or not "
            "at all. Lines with an unusable phone, a repeated phone, the wrong number of fields or a bad "
            "`opt_in` are left out and listed in `errors` with their line numbers. A file that cannot be used "
            "at all (empty, not UTF-8 text, no `phone` column, no line importable) answers 400 `invalid`; one "
            "over the size or line limit 413.\n\n"
            "Any other file is a media file (`kind: media`) to send with `POST /messages/` as "
            "`media.upload_id`. Its type is read from its content: JPEG and PNG images, PDF, Word, Excel, "
            "PowerPoint (.doc/.docx, .xls/.xlsx, .ppt/.pptx) and UTF-8 plain text documents; another type "
            "answers 400 `invalid`, a file over the channel's limit (images 16 MB, documents 100 MB) 413. "
            "Uploads are deleted after `MEDIA_UPLOAD_RETENTION_HOURS` (24 h); a message sent with one keeps "
            "its own copy."
        ),
        parameters=[idempotency.PARAMETER],
        request={"multipart/form-data": InputSerializer},
        responses={
            201: UPLOAD_RESULT,
            400: OpenApiResponse(
                response=ErrorSerializer,
                description="`invalid`: no file, or a file that cannot be used; `details.file` says why.",
            ),
            **error_responses(401, 403),
            413: OpenApiResponse(
                response=ErrorSerializer, description="`too_large`: the file is over the size or line limit."
            ),
            **error_responses(422, 429),
        },
    )
    @idempotency.idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        if not serializer.is_valid():
            raise serializers.ValidationError({"file": [FILE_REQUIRED]})
        file = serializer.validated_data["file"]
        if _is_csv(file):
            return self._csv(file)
        upload = media_upload_create(file=file, api_key=request.auth if isinstance(request.auth, ApiKey) else None)
        return Response(media_upload_data(upload), status=201)

    def _csv(self, file: UploadedFile) -> Response:
        try:
            result = uploads.upload_create(file=file, created_by=None)
        except uploads.UploadTooLargeError as exc:
            raise ApiError(413, "too_large", exc.messages[0]) from exc
        if result.upload is None:
            lines = [f"Line {e['line']}: {e['message']}" for e in result.errors[:100]]
            raise ApiError(400, "invalid", NOTHING_IMPORTED, {"file": [NOTHING_IMPORTED], "lines": lines})
        upload = result.upload
        return Response(
            {
                "kind": "csv",
                "id": str(upload.public_id),
                "rows": result.rows,
                "errors": result.errors,
                "error_count": result.error_count,
                "columns": upload.columns,
                "opt_ins_recorded": upload.opt_ins_recorded,
                "file_name": upload.original_name,
                "created_at": iso(upload.created_at),
            },
            status=201,
        )


# --- media uploads ---------------------------------------------------------------------------


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
    if "text/plain" in (claimed, _base(file.content_type)) and _is_utf8_text(file):
        return "text/plain"
    return None


def media_upload_create(*, file: UploadedFile, api_key: ApiKey | None) -> MediaUpload:
    """Stores a media file for a later send (module doc); ApiError 400/413 for one refused."""
    if not file.size:
        raise ApiError(400, "invalid", MEDIA_EMPTY, {"file": [MEDIA_EMPTY]})
    mime_type = media_type_detect(file)
    if mime_type is None or mime_type not in MEDIA_KINDS:
        raise ApiError(400, "invalid", MEDIA_TYPE_REFUSED, {"file": [MEDIA_TYPE_REFUSED]})
    kind = MEDIA_KINDS[mime_type]
    limit = media_upload_max_bytes(kind)
    if file.size > limit:
        message = MEDIA_TOO_LARGE[kind].format(size=_mb(file.size, up=True), limit=_mb(limit))
        raise ApiError(413, "too_large", message, {"file": [message]})
    upload = MediaUpload(
        filename=media_filename(file.name or "", mime_type), mime_type=mime_type, size=file.size, api_key=api_key
    )
    path = f"{connection.schema_name}/uploads/{upload.public_id.hex}/{upload.filename[-100:]}"
    upload.file.save(path, file, save=False)
    upload.save()
    return upload


def media_upload_data(upload: MediaUpload) -> dict[str, Any]:
    return {
        "kind": "media",
        "id": str(upload.public_id),
        "filename": upload.filename,
        "mime_type": upload.mime_type,
        "size": upload.size,
        "created_at": iso(upload.created_at),
    }


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


def _is_csv(file: UploadedFile) -> bool:
    return (file.name or "").lower().endswith(".csv") or _base(file.content_type) in CSV_CONTENT_TYPES


def _base(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _mb(size: int, *, up: bool = False) -> str:
    """Megabytes for a message: whole when exact, else one decimal (rounded up for a size, so a
    file just over a limit never reads as the limit itself)."""
    tenths = -(-size * 10 // media.MB) if up else size * 10 // media.MB
    return str(tenths // 10) if tenths % 10 == 0 else f"{tenths / 10:.1f}"


def _content_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
