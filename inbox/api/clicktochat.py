"""Click-to-chat links and QR codes of a connected number (docs/api.md "Click-to-chat")."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import renderers, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_responses
from inbox import selectors
from inbox.models import PhoneNumber
from inbox.services import clicktochat

TEXT_PARAMETER = OpenApiParameter(
    "text",
    str,
    required=False,
    description=f"Text prefilled in the customer's message box (at most {clicktochat.TEXT_MAX} characters).",
)


class _ImageRenderer(renderers.BaseRenderer):
    """Lets a client that asks for the image type get it; errors still render as JSON."""

    charset = None
    format = "image"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, bytes):
            return data
        return renderers.JSONRenderer().render(data)


class _SvgRenderer(_ImageRenderer):
    media_type = "image/svg+xml"
    format = "svg"


class _PngRenderer(_ImageRenderer):
    media_type = "image/png"
    format = "png"


def _number_and_text(request: Request, id: uuid.UUID) -> tuple[PhoneNumber, str]:
    number = selectors.phone_number_get_connected(company=request.tenant, public_id=id)  # type: ignore[attr-defined]  # set by the tenant middleware
    try:
        text = clicktochat.clicktochat_text_check(request.query_params.get("text", ""))
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.message_dict) from None
    return number, text


@extend_schema_serializer(component_name="ClickToChat")
class ClickToChatObject(serializers.Serializer[Any]):
    url = serializers.URLField(help_text="`https://wa.me/<digits>?text=<URL-encoded text>`.")
    qr_svg_url = serializers.URLField(help_text="The link's QR code as SVG (same key).")
    qr_png_url = serializers.URLField(help_text="The link's QR code as PNG (same key).")


class ClickToChatApi(APIView):
    @extend_schema(
        operation_id="phone_numbers_click_to_chat",
        summary="Click-to-chat link of a number",
        parameters=[TEXT_PARAMETER],
        responses={200: ClickToChatObject, **error_responses(400, 401, 403, 404, 429)},
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:
        number, text = _number_and_text(request, id)
        query = f"?{urlencode({'text': text})}" if text else ""
        return Response(
            {
                "url": clicktochat.clicktochat_url(phone_number=number, text=text),
                "qr_svg_url": request.build_absolute_uri(reverse("api_click_to_chat_svg", args=[id]) + query),
                "qr_png_url": request.build_absolute_uri(reverse("api_click_to_chat_png", args=[id]) + query),
            }
        )


def _qr_api(kind: str, content_type: str, renderer: type[renderers.BaseRenderer], draw: Any) -> type[APIView]:
    """The QR code endpoint for one image format (`kind`: svg or png)."""

    class QrApi(APIView):
        renderer_classes = [renderers.JSONRenderer, renderer]

        @extend_schema(
            operation_id=f"phone_numbers_click_to_chat_{kind}",
            summary=f"Click-to-chat QR code ({kind.upper()})",
            parameters=[TEXT_PARAMETER],
            responses={
                (200, content_type): OpenApiResponse(response=OpenApiTypes.BINARY, description="The QR code."),
                **error_responses(400, 401, 403, 404, 429),
            },
        )
        def get(self, request: Request, id: uuid.UUID) -> HttpResponse:
            number, text = _number_and_text(request, id)
            response = HttpResponse(draw(phone_number=number, text=text), content_type=content_type)
            response["Content-Disposition"] = f'inline; filename="whatsapp-qr.{kind}"'
            return response

    QrApi.__name__ = QrApi.__qualname__ = f"ClickToChat{kind.capitalize()}Api"
    return QrApi


ClickToChatSvgApi = _qr_api("svg", "image/svg+xml", _SvgRenderer, clicktochat.clicktochat_qr_svg)
ClickToChatPngApi = _qr_api("png", "image/png", _PngRenderer, clicktochat.clicktochat_qr_png)
