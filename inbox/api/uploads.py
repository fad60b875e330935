"""`POST /uploads/`: CSV audiences for broadcasts and media files for messages (design/API.md).

One endpoint, two kinds, told apart by the file:

- a CSV (`text/csv`, or a name ending in `.csv`) is a broadcast audience. It answers 201
  `{"kind": "csv", "id", "rows", "errors", …}`; the id goes into a broadcast's audience as
  `{"type": "csv", "upload_id": <id>}`. The format and the consent rule are in
  inbox.services.uploads and docs/broadcasts.md.
- any other file is a media file to send with `POST /messages/` as `media.upload_id`, typed
  by its content and stored by inbox.services.media_uploads (which says how and for how
  long). It answers 201 `{"kind": "media", "id", "filename", "mime_type", "size", "created_at"}`.

`Idempotency-Key` works as everywhere (the file counts by its content). Without one,
repeating a CSV upload is harmless too: contacts are matched by phone and an opt-in is
recorded only for a contact not opted in yet, so a second upload of the same file only
makes a second, identical upload object; a media file uploaded twice is stored twice.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
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
from inbox.services import uploads
from inbox.services.media_uploads import content_type_base, media_upload_create, media_upload_max_bytes, megabytes

FILE_REQUIRED = _("Send the file as the multipart field `file`: a CSV audience, an image or a document.")
NOTHING_IMPORTED = _("No line of the file could be imported; see `details.lines`.")
# Multipart framing around the file: a request this much over the file limit is refused
# before its body is read.
ENVELOPE_BYTES = 64 * 1024

CSV_CONTENT_TYPES = frozenset({"text/csv", "application/csv", "text/comma-separated-values"})
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
                    limit=megabytes(limit),
                    csv=megabytes(csv_limit),
                    image=megabytes(limits["image"]),
                    document=megabytes(limits["document"]),
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
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        try:
            upload = media_upload_create(file=file, api_key=api_key)
        except uploads.UploadTooLargeError as exc:
            raise ApiError(413, "too_large", exc.messages[0], {"file": exc.messages}) from exc
        except ValidationError as exc:
            raise ApiError(400, "invalid", exc.messages[0], {"file": exc.messages}) from exc
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


def media_upload_data(upload: MediaUpload) -> dict[str, Any]:
    return {
        "kind": "media",
        "id": str(upload.public_id),
        "filename": upload.filename,
        "mime_type": upload.mime_type,
        "size": upload.size,
        "created_at": iso(upload.created_at),
    }


def _is_csv(file: UploadedFile) -> bool:
    return (file.name or "").lower().endswith(".csv") or content_type_base(file.content_type) in CSV_CONTENT_TYPES


def _content_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
