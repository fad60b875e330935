"""`Idempotency-Key` on the API's POSTs (design/API.md Conventions; Stripe's model, research §1.3).

The same key with the same request within 24 hours answers the first response again (same
status, same body, plus `Idempotent-Replayed: true`) and does nothing more; the same key
with another request (body, path or method) answers 422 `idempotency_mismatch`. Keys are
scoped per API key: two keys never see each other's records.

How a duplicate is kept from running twice: the record is claimed with an INSERT on the
unique (api_key, key) index *in the same transaction as the work*, and the answer is
written into it before that transaction commits. A concurrent duplicate's INSERT waits on
the index until the first request commits, then fails and replays the stored answer (or,
if the first one rolled back, wins the claim and runs). So nobody ever sees a half-done
record, and the price is that the duplicate waits for the first request to finish; the
work under a POST is short (sends are queued, never made inside the request).

Stored: every answer below 500 except 400 `invalid` (Stripe: nothing is saved when
parameters fail validation, so a corrected body may reuse the key). A 5xx rolls the work
back together with the claim, so a retry with the same key runs afresh.

This layer is the one place in the API that opens a transaction and writes a row itself:
the record is the HTTP exchange, not domain data.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django_tenants.utils import schema_context
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiError
from inbox.api.auth import request_api_key
from inbox.models import IdempotencyRecord
from tenants.models import Company

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_MAX_LENGTH = 255
TTL = timedelta(hours=24)

KEY_TOO_LONG = f"An Idempotency-Key has at most {KEY_MAX_LENGTH} characters."
KEY_BLANK = gettext_lazy("An Idempotency-Key must not be blank.")
MISMATCH = (
    "This Idempotency-Key was already used with another request. "
    "Send the same request again, or use a new key for a new request."
)
IN_PROGRESS = gettext_lazy("A request with this Idempotency-Key is still in progress; retry in a moment.")

PARAMETER = OpenApiParameter(
    name=HEADER,
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "Any string of up to 255 characters, e.g. a UUID. Within 24 hours the same key with the same "
        "body answers the first response again (header `Idempotent-Replayed: true`) and does nothing "
        "more; with another body it answers 422 `idempotency_mismatch`. Scoped to the API key."
    ),
)

Handler = TypeVar("Handler", bound=Callable[..., Response])


def idempotent(handler: Handler) -> Handler:
    """Decorates an APIView's `post`: honours `Idempotency-Key` as the module says."""

    @functools.wraps(handler)
    def wrapper(view: APIView, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        _key_validate(key)
        api_key = request_api_key(request)
        # Parsing the body here means malformed JSON is a 400 before anything is claimed.
        fingerprint = request_fingerprint(request)
        with transaction.atomic():
            record, claimed = _claim(api_key_id=api_key.pk, key=key, request=request, fingerprint=fingerprint)
            if not claimed:
                return _replay(record, fingerprint)
            try:
                with transaction.atomic():
                    response = handler(view, request, *args, **kwargs)
            except Exception as exc:  # answered like DRF would; unhandled ones re-raise
                response = view.handle_exception(exc)
            if response.status_code >= 500 or response.status_code == 400:
                record.delete()
            else:
                record.status_code = response.status_code
                record.response_body = _rendered(response)
                record.save(update_fields=["status_code", "response_body"])
        return response

    return wrapper  # type: ignore[return-value]  # same signature as the handler


def _key_validate(key: str) -> None:
    if len(key) > KEY_MAX_LENGTH:
        raise exceptions.ValidationError({HEADER: [KEY_TOO_LONG]})
    if not key.strip():
        raise exceptions.ValidationError({HEADER: [KEY_BLANK]})


def request_fingerprint(request: Request) -> str:
    """SHA-256 of method, path and the parsed body with sorted keys (key order and spacing
    of the JSON do not make two requests different); a multipart file counts by its content."""
    canonical = json.dumps(
        {"method": request.method, "path": request.path, "body": request.data},
        sort_keys=True,
        separators=(",", ":"),
        default=_canonical_value,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical_value(value: Any) -> str:
    """An uploaded file by its content (its name alone would let another file replay)."""
    if isinstance(value, UploadedFile):
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)
        return f"file:{value.name}:{digest.hexdigest()}"
    return str(value)


def _claim(*, api_key_id: int, key: str, request: Request, fingerprint: str) -> tuple[IdempotencyRecord, bool]:
    """(record, True) when this request claimed the key; (the earlier record, False) otherwise.

    Caller holds a transaction: the claim lives and dies with the work.
    """
    IdempotencyRecord.objects.filter(api_key_id=api_key_id, key=key, created_at__lte=timezone.now() - TTL).delete()
    try:
        with transaction.atomic():  # a savepoint: losing the race leaves the outer transaction usable
            record = IdempotencyRecord.objects.create(
                api_key_id=api_key_id,
                key=key,
                method=request.method or "",
                path=request.path[:255],
                request_hash=fingerprint,
            )
        return record, True
    except IntegrityError:
        # The INSERT waited for the holder of the key to commit; its record is visible now.
        existing = IdempotencyRecord.objects.filter(api_key_id=api_key_id, key=key).first()
        if existing is None:  # purged between the two statements: treat as still busy
            raise ApiError(409, "conflict", IN_PROGRESS) from None
        return existing, False


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.request_hash != fingerprint:
        raise ApiError(422, "idempotency_mismatch", MISMATCH)
    if record.status_code is None:
        raise ApiError(409, "conflict", IN_PROGRESS)
    return Response(record.response_body, status=record.status_code, headers={REPLAYED_HEADER: "true"})


def _rendered(response: Response) -> Any:
    """The body as the client receives it (UUIDs and times as strings)."""
    if response.data is None:
        return None
    return json.loads(JSONRenderer().render(response.data))


def idempotency_records_purge(*, now: datetime | None = None) -> int:
    """Deletes the current company's records older than 24 h; returns how many."""
    cutoff = (now or timezone.now()) - TTL
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lte=cutoff).delete()
    return deleted


def idempotency_records_purge_all_companies(*, now: datetime | None = None) -> int:
    """Beat entry point (runs in the public schema): purges every company's schema in turn."""
    total = 0
    companies = Company.objects.filter(status__in=[Company.Status.ACTIVE, Company.Status.SUSPENDED])
    for schema_name in companies.values_list("schema_name", flat=True):
        with schema_context(schema_name):
            total += idempotency_records_purge(now=now)
    return total
