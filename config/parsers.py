"""Request parsers. Kept apart from config/api.py: DRF imports its parser settings while
`rest_framework.views` is still loading, so this module must not import DRF's views."""

from __future__ import annotations

from typing import IO, Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers, status
from rest_framework.request import Request

TOO_LARGE_MESSAGE = _("The request body is too large.")


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = TOO_LARGE_MESSAGE
    default_code = "too_large"


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded by DATA_UPLOAD_MAX_MEMORY_SIZE like Django's `request.body`.

    DRF reads the raw request stream and so skips Django's size check; without this a
    client could make a worker hold a body of any size in memory. A body without
    Content-Length is never read by DRF, so the header is the whole check.
    """

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: dict[str, Any] | None = None
    ) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        if limit is not None and request is not None and _content_length(request) > limit:
            raise RequestTooLarge()
        return super().parse(stream, media_type, parser_context)


def _content_length(request: Request | HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0
