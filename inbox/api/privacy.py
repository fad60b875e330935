"""Privacy (GDPR) and merge endpoints (docs/api.md "Privacy and merge").

API keys carry no role: a key is made by an owner in Settings → API keys and acts with the
owner's authority, so a key may export, erase and merge (the services check roles only for
people signed in to the browser app).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import renderers, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiError, error_responses
from inbox import representations, selectors
from inbox.api import idempotency
from inbox.api.objects import ContactObject, ThreadObject
from inbox.models import PrivacyLog
from inbox.services import merge, privacy


@extend_schema_serializer(component_name="ErasureLog")
class ErasureObject(serializers.Serializer[Any]):
    id = serializers.UUIDField(help_text="The log entry's id.")
    contact = serializers.UUIDField(help_text="The erased contact's id (the anonymous row stays).")
    counts = serializers.DictField(child=serializers.IntegerField(), help_text="What was erased, as counts.")
    created_at = serializers.DateTimeField()


def _erasure_data(log: PrivacyLog) -> dict[str, Any]:
    return {
        "id": str(log.public_id),
        "contact": str(log.contact_public_id),
        "counts": log.counts,
        "created_at": log.created_at,
    }


@extend_schema_serializer(component_name="MergeInput")
class MergeInput(serializers.Serializer[Any]):
    # "from" is a Python keyword, so the field is declared through the class namespace.
    vars()["from"] = serializers.UUIDField(help_text="The id of the one merged into this one (then deleted).")


class ZipRenderer(renderers.BaseRenderer):
    """Lets a client that accepts only `application/zip` reach the export. The ZIP itself is
    a FileResponse (never rendered); an error answer is still the JSON error body."""

    media_type = "application/zip"
    format = "zip"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return json.dumps(data, cls=DjangoJSONEncoder).encode()


class ContactExportApi(APIView):
    renderer_classes = [renderers.JSONRenderer, ZipRenderer]

    @extend_schema(
        operation_id="contacts_export",
        summary="Export everything stored about a contact",
        description=(
            "A ZIP file: `contact.json` (contact, attributes, labels, consent ledger, threads with messages "
            "and notes, broadcast deliveries) and the stored media files under `media/<message id>/`."
        ),
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The ZIP file."),
            **error_responses(401, 403, 404, 429),
        },
    )
    def get(self, request: Request, id: uuid.UUID) -> FileResponse:
        contact = selectors.contact_get(public_id=id)
        archive = privacy.contact_export(contact=contact, actor=request.user)
        return FileResponse(
            archive, as_attachment=True, filename=f"contact-{contact.public_id}.zip", content_type="application/zip"
        )


class ContactEraseApi(APIView):
    @extend_schema(
        operation_id="contacts_erase",
        summary="Erase a contact (GDPR)",
        description=(
            "Removes the contact's personal data for good: phone, names, attributes, labels, the content and "
            "media of every message in its threads, notes' text. Message rows keep their shape. Cannot be "
            "undone. A second call answers 409 `conflict`."
        ),
        parameters=[idempotency.PARAMETER],
        request=None,
        responses={200: ErasureObject, **error_responses(401, 403, 404, 409, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        contact = selectors.contact_get(public_id=id)
        try:
            log = privacy.contact_erase(contact=contact, actor=request.user)
        except ValidationError as exc:
            raise ApiError(409, "conflict", exc.messages[0]) from exc
        return Response(_erasure_data(log))


def _merged(request: Request, id: uuid.UUID, *, get: Any, merge: Any, data: Any) -> Response:
    """Both merge endpoints: `from` (a contact or thread, like `id`) into `id`; a refused
    merge is 409 `conflict`, and the answer is the survivor as it is now."""
    into = get(public_id=id)
    serializer = MergeInput(data=request.data)
    serializer.is_valid(raise_exception=True)
    source = get(public_id=serializer.validated_data["from"])
    try:
        merge(into=into, source=source, actor=request.user)
    except ValidationError as exc:
        raise ApiError(409, "conflict", exc.messages[0]) from exc
    return Response(data(get(public_id=id)))


class ContactMergeApi(APIView):
    @extend_schema(
        operation_id="contacts_merge",
        summary="Merge another contact into this one",
        description=(
            "Threads, messages, notes, labels and consent events of `from` move here; two threads on the same "
            "number are merged. `from` is deleted; its phone is kept as the attribute `merged_phone`."
        ),
        parameters=[idempotency.PARAMETER],
        request=MergeInput,
        responses={200: ContactObject, **error_responses(400, 401, 403, 404, 409, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        return _merged(request, id, get=selectors.contact_get, merge=merge.contact_merge,
                       data=representations.contact_data)  # fmt: skip


class ThreadMergeApi(APIView):
    @extend_schema(
        operation_id="threads_merge",
        summary="Merge another thread into this one",
        description="Messages, notes, ratings and labels of `from` move here; `from` is deleted.",
        parameters=[idempotency.PARAMETER],
        request=MergeInput,
        responses={200: ThreadObject, **error_responses(400, 401, 403, 404, 409, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        return _merged(request, id, get=selectors.thread_get, merge=merge.thread_merge,
                       data=representations.thread_data)  # fmt: skip


@extend_schema_serializer(component_name="PrivacySettings")
class PrivacySettingsObject(serializers.Serializer[Any]):
    retention_days = serializers.IntegerField(
        allow_null=True,
        min_value=1,
        max_value=privacy.RETENTION_MAX_DAYS,
        help_text=(
            "Days after which message bodies and media of resolved threads (last message older than this) are "
            "purged nightly; null keeps them (the default)."
        ),
    )


class PrivacySettingsApi(APIView):
    @extend_schema(
        operation_id="privacy_settings_retrieve",
        summary="Get the retention period",
        responses={200: PrivacySettingsObject, **error_responses(401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        return Response({"retention_days": request.tenant.retention_days})  # type: ignore[attr-defined]


class PrivacySettingsUpdateApi(APIView):
    @extend_schema(
        operation_id="privacy_settings_update",
        summary="Set the retention period",
        request=PrivacySettingsObject,
        responses={200: PrivacySettingsObject, **error_responses(400, 401, 403, 429)},
    )
    def patch(self, request: Request) -> Response:
        serializer = PrivacySettingsObject(data=request.data)
        serializer.is_valid(raise_exception=True)
        company = privacy.retention_update(
            company=request.tenant,  # type: ignore[attr-defined]  # set by the tenant middleware
            retention_days=serializer.validated_data["retention_days"],
            actor=request.user,
        )
        return Response({"retention_days": company.retention_days})
