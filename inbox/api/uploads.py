"""CSV uploads for broadcast audiences (design/API.md "Broadcasts", CSV uploads).

`POST /uploads/` takes a multipart `file` and answers 201 `{"id", "rows", "errors"}`; the
id goes into a broadcast's audience as `{"type": "csv", "upload_id": <id>}`. The format
and the consent rule are in inbox.services.uploads and docs/broadcasts.md.

`Idempotency-Key` works as everywhere (the file counts by its content). Without one,
repeating an upload is harmless too: contacts are matched by phone and an opt-in is
recorded only for a contact not opted in yet, so a second upload of the same file only
makes a second, identical upload object.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiError, ErrorSerializer, error_responses
from inbox.api import idempotency
from inbox.representations import iso
from inbox.services import uploads

FILE_REQUIRED = _("Send the CSV file as the multipart field `file`.")
NOTHING_IMPORTED = _("No line of the file could be imported; see `details.lines`.")
# Multipart framing around the file: a request this much over the file limit is refused
# before its body is read.
ENVELOPE_BYTES = 64 * 1024


@extend_schema_serializer(component_name="UploadLineError")
class UploadLineErrorObject(serializers.Serializer[Any]):
    line = serializers.IntegerField(help_text="The line of the file, counting the header as line 1.")
    message = serializers.CharField()


@extend_schema_serializer(component_name="Upload")
class UploadObject(serializers.Serializer[Any]):
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


class UploadCreateApi(APIView):
    parser_classes = [MultiPartParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """After authentication, before the body is read: a request over the limit is refused
        without spooling it to disk."""
        super().initial(request, *args, **kwargs)
        limit = uploads.conf("AUDIENCE_UPLOAD_MAX_BYTES")
        if _content_length(request) > limit + ENVELOPE_BYTES:
            raise ApiError(413, "too_large", uploads.FILE_TOO_LARGE.format(limit=limit // (1024 * 1024)))

    @extend_schema_serializer(component_name="UploadCreateInput")
    class InputSerializer(serializers.Serializer[Any]):
        file = serializers.FileField(
            allow_empty_file=True,  # the service says "The file is empty." like for a blank one
            help_text=(
                "UTF-8 CSV (comma or semicolon), a header row with a `phone` column; optional `opt_in` "
                "(yes/true/1); every other column is a per-recipient variable."
            ),
        )

    @extend_schema(
        operation_id="uploads_create",
        summary="Upload a CSV audience",
        description=(
            "Imports the whole file or nothing. Lines with an unusable phone, a repeated phone, the "
            "wrong number of fields or a bad `opt_in` are left out and listed in `errors` with their "
            "line numbers. A file that cannot be used at all (empty, not UTF-8 text, no `phone` "
            "column, no line importable) answers 400 `invalid`; one over the size or line limit 413."
        ),
        parameters=[idempotency.PARAMETER],
        request={"multipart/form-data": InputSerializer},
        responses={
            201: UploadObject,
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
        try:
            result = uploads.upload_create(file=serializer.validated_data["file"], created_by=None)
        except uploads.UploadTooLargeError as exc:
            raise ApiError(413, "too_large", exc.messages[0]) from exc
        if result.upload is None:
            lines = [f"Line {e['line']}: {e['message']}" for e in result.errors[:100]]
            raise ApiError(400, "invalid", NOTHING_IMPORTED, {"file": [NOTHING_IMPORTED], "lines": lines})
        upload = result.upload
        return Response(
            {
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


def _content_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
