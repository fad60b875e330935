"""API conventions shared by every endpoint: one error shape, cursor pages, error views.

Every error the API gives, DRF's or Django's (404 for an unknown path, 413, 500), has the
shape `{"error": {"code", "message", "details"?}}` (design/API.md).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema_serializer
from rest_framework import exceptions, pagination, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from billing.errors import PlanLimitExceeded
from config.parsers import TOO_LARGE_MESSAGE, RequestTooLarge

logger = logging.getLogger(__name__)

NON_FIELD_ERRORS = "non_field_errors"
NOT_FOUND_MESSAGE = _("Not found.")
SERVER_ERROR_MESSAGE = _("Something went wrong on our side. It has been logged.")


CODE_BY_EXCEPTION: list[tuple[type[exceptions.APIException], str]] = [
    (exceptions.NotAuthenticated, "unauthenticated"),
    (exceptions.AuthenticationFailed, "unauthenticated"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "rate_limited"),
    (exceptions.ParseError, "invalid"),
    (exceptions.ValidationError, "invalid"),
    (RequestTooLarge, "too_large"),
]


class ApiError(exceptions.APIException):
    """A domain error with its own code, e.g. `ApiError(409, "window_closed", "…")`."""

    def __init__(self, status_code: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.message = message
        self.details = details


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": str(message)}
    if details:
        error["details"] = details
    return {"error": error}


def _flatten_message(detail: Any) -> str:
    if isinstance(detail, list) and detail:
        return _flatten_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        inner = _flatten_message(value)
        return inner if key == NON_FIELD_ERRORS else f"{key}: {inner}"
    return str(detail)


def _field_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's error tree as `{"field": [messages]}`; nested fields as dotted paths (`items.0.phone`)."""
    if isinstance(detail, dict):
        errors: dict[str, list[str]] = {}
        for key, value in detail.items():
            errors.update(_field_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return errors
    if isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        # A list serializer's errors: one entry per item, `{}` for the valid ones.
        errors = {}
        for index, item in enumerate(detail):
            errors.update(_field_errors(item, f"{prefix}.{index}" if prefix else str(index)))
        return errors
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or NON_FIELD_ERRORS: [str(message) for message in messages]} if messages else {}


def _from_django(exc: Exception) -> Exception:
    """Django's exceptions that a view or service may raise, as their DRF counterparts."""
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            details = {
                NON_FIELD_ERRORS if field == "__all__" else field: msgs for field, msgs in exc.message_dict.items()
            }
            return exceptions.ValidationError(details)
        return exceptions.ValidationError({NON_FIELD_ERRORS: exc.messages})
    if isinstance(exc, Http404):
        # Django's message may name the model or the lookup; the API says only "not found".
        return exceptions.NotFound(NOT_FOUND_MESSAGE)
    if isinstance(exc, DjangoPermissionDenied):
        # Services raise it with a message meant for the user (e.g. "Only owners …").
        return exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, PlanLimitExceeded):
        return ApiError(402, "plan_limit_exceeded", exc.message, exc.details)
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every handled error in the API's shape; None lets handler500 answer."""
    exc = _from_django(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's handler500 answers in the same shape
    if isinstance(exc, ApiError):
        response.data = error_body(exc.error_code, exc.message, exc.details)
        return response
    code = next((c for cls, c in CODE_BY_EXCEPTION if isinstance(exc, cls)), "error")
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(code, "The request is invalid: " + _flatten_message(detail), _field_errors(detail))
    elif isinstance(exc, exceptions.Throttled):
        response.data = error_body(
            code, "Too many requests. Retry after the time in Retry-After.", {"retry_after": exc.wait}
        )
    else:
        response.data = error_body(code, _flatten_message(detail))
    return response


class CursorPagination(pagination.CursorPagination):
    """Keyset pages: constant cost at any depth and no COUNT (performance-limits.md §4).

    Newest first by `created_at`; a view whose model orders otherwise sets `ordering`
    (same meaning as for DRF's OrderingFilter), e.g. `ordering = ("-date_joined", "-id")`.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-id")

    def get_ordering(self, request: Request, queryset: QuerySet[Any], view: APIView | None) -> tuple[str, ...]:
        view_ordering = getattr(view, "ordering", None)
        if view_ordering and not any(hasattr(f, "get_ordering") for f in getattr(view, "filter_backends", [])):
            return (view_ordering,) if isinstance(view_ordering, str) else tuple(view_ordering)
        return tuple(super().get_ordering(request, queryset, view))

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"results": data, "next": self.get_next_link(), "previous": self.get_previous_link()})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["results", "next", "previous"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
            },
        }


# --- OpenAPI: the error shape as one reusable component ---------------------------------


@extend_schema_serializer(component_name="ErrorBody")
class ErrorBodySerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. `invalid`, `not_found`.")
    message = serializers.CharField(help_text="Human-readable explanation; may change, do not parse it.")
    details = serializers.DictField(
        required=False,
        help_text="Optional. For `invalid`: field name → list of messages (nested fields as dotted paths).",
    )


@extend_schema_serializer(component_name="Error")
class ErrorSerializer(serializers.Serializer[Any]):
    """`{"error": {"code", "message", "details"?}}`: every error of the API."""

    error = ErrorBodySerializer()


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "`invalid`: malformed JSON or failed validation.",
    401: "`unauthenticated`: no, unknown or revoked API key, or a key of another company.",
    402: "`plan_limit_exceeded`: a plan limit was reached.",
    403: "`permission_denied`, or `company_suspended` when an operator suspended the company.",
    404: "`not_found`: no such object for this company.",
    405: "`method_not_allowed`.",
    409: "`conflict` or `window_closed`: the object's state forbids the action.",
    413: "`too_large`: the body is over the limit.",
    422: "`idempotency_mismatch`: the Idempotency-Key was used with another body.",
    429: "`rate_limited`: too many requests; wait for the seconds in `Retry-After`.",
}


def error_responses(*status_codes: int) -> dict[int, OpenApiResponse]:
    """`extend_schema(responses=…)` entries documenting the error shape for these statuses."""
    return {
        code: OpenApiResponse(response=ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in status_codes
    }


# --- Django's error views: JSON in the API's shape under /api/ ------------------------


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/webhooks/")) or request.path == "/healthz"


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("not_found", NOT_FOUND_MESSAGE), status=404)
    return render(request, "404.html", status=404)


def handler500(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("server_error", SERVER_ERROR_MESSAGE), status=500)
    return render(request, "500.html", status=500)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("permission_denied", _("You may not do this.")), status=403)
    return render(request, "403.html", status=403)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 400 (SuspiciousOperation); a body over DATA_UPLOAD_MAX_MEMORY_SIZE is a 413 in the API."""
    if _wants_json(request):
        if isinstance(exception, RequestDataTooBig):
            return JsonResponse(error_body("too_large", TOO_LARGE_MESSAGE), status=413)
        return JsonResponse(error_body("invalid", _("Bad request.")), status=400)
    return render(request, "400.html", status=400)
