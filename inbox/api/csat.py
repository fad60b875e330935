"""Customer satisfaction settings (docs/api.md "CSAT")."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_responses
from inbox.services import csat


@extend_schema_serializer(component_name="CsatSettings")
class CsatSettingsObject(serializers.Serializer[Any]):
    csat_enabled = serializers.BooleanField(
        help_text="Ask the customer for a 1-5 rating when a thread is resolved (inside the 24-hour window only)."
    )


class CsatSettingsApi(APIView):
    @extend_schema(
        operation_id="csat_settings_retrieve",
        summary="Get the satisfaction survey setting",
        responses={200: CsatSettingsObject, **error_responses(401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        return Response({"csat_enabled": request.tenant.csat_enabled})  # type: ignore[attr-defined]  # set by the tenant middleware


class CsatSettingsUpdateApi(APIView):
    @extend_schema(
        operation_id="csat_settings_update",
        summary="Turn the satisfaction survey on or off",
        request=CsatSettingsObject,
        responses={200: CsatSettingsObject, **error_responses(400, 401, 403, 429)},
    )
    def patch(self, request: Request) -> Response:
        serializer = CsatSettingsObject(data=request.data)
        serializer.is_valid(raise_exception=True)
        company = csat.csat_settings_update(
            company=request.tenant,  # type: ignore[attr-defined]  # set by the tenant middleware
            csat_enabled=serializer.validated_data["csat_enabled"],
        )
        return Response({"csat_enabled": company.csat_enabled})
