"""A test-only URLconf: views that exercise API error paths no public endpoint has yet.

Used with `@pytest.mark.urls("inbox.tests.probe_urls")`. The probes are built like real
endpoints (default authentication, throttling and exception handler) so the tests see
what an integrator would.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import include, path
from rest_framework import parsers, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.models import ApiKey
from config.parsers import JSONParser

OWNERS_ONLY_MESSAGE = "Only owners may do this."


class ProbeContactCreateApi(APIView):
    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer[Any]):
        class AddressSerializer(serializers.Serializer[Any]):
            city = serializers.CharField()

        phone = serializers.CharField(max_length=16)
        name = serializers.CharField()
        address = AddressSerializer()

    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.validated_data, status=201)


class ProbeKeyCreateApi(APIView):
    """Calls a real service that raises Django's ValidationError for a blank name."""

    def post(self, request: Request) -> Response:
        issued = services.api_key_create(name=str(request.data.get("name", "")))
        return Response({"prefix": issued.api_key.prefix}, status=201)


class ProbeKeyDetailApi(APIView):
    def get(self, request: Request, public_id: UUID) -> Response:
        api_key = get_object_or_404(ApiKey, public_id=public_id)
        return Response({"id": str(api_key.public_id), "name": api_key.name})


class ProbeOwnersOnlyApi(APIView):
    def post(self, request: Request) -> Response:
        raise PermissionDenied(OWNERS_ONLY_MESSAGE)


class ProbeUploadApi(APIView):
    parser_classes = [parsers.MultiPartParser]

    def post(self, request: Request) -> Response:
        return Response({"fields": sorted(request.data)}, status=201)


urlpatterns = [
    path("api/v1/", include("inbox.api.urls")),
    path("api/v1/_probe/contacts", ProbeContactCreateApi.as_view()),
    path("api/v1/_probe/keys", ProbeKeyCreateApi.as_view()),
    path("api/v1/_probe/keys/<uuid:public_id>", ProbeKeyDetailApi.as_view()),
    path("api/v1/_probe/owners-only", ProbeOwnersOnlyApi.as_view()),
    path("api/v1/_probe/uploads", ProbeUploadApi.as_view()),
]

handler400 = "config.api.handler400"
handler403 = "config.api.handler403"
handler404 = "config.api.handler404"
handler500 = "config.api.handler500"
