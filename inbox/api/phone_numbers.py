"""The company's provider numbers (design/API.md "Phone numbers")."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import CursorPagination, error_responses
from inbox import representations, selectors
from inbox.api import idempotency
from inbox.api.common import page_response
from inbox.api.objects import PhoneNumberObject
from inbox.services import numbers


class PhoneNumberListApi(APIView):
    """The connected numbers, newest first."""

    pagination_class = CursorPagination

    @extend_schema(
        operation_id="phone_numbers_list",
        summary="List connected phone numbers",
        responses={200: PhoneNumberObject(many=True), **error_responses(401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        number_list = selectors.phone_number_list_connected(company=request.tenant)  # type: ignore[attr-defined]  # set by the tenant middleware
        return page_response(self, request, number_list, representations.phone_number_data)


class PhoneNumberConnectApi(APIView):
    @extend_schema_serializer(component_name="PhoneNumberConnectInput")
    class InputSerializer(serializers.Serializer[Any]):
        phone_number_id = serializers.CharField(
            max_length=64, help_text="The provider's id of the number: 1 to 64 letters, digits, `.`, `_` or `-`."
        )
        display_number = serializers.CharField(max_length=32, help_text="The number in E.164, e.g. `+4930123456`.")
        access_token = serializers.CharField(
            write_only=True, max_length=4096, help_text="The provider's access token. Never shown again."
        )

    @extend_schema(
        operation_id="phone_numbers_create",
        summary="Connect a phone number",
        description="A `phone_number_id` can be connected to one company only; again → 400 `invalid`.",
        parameters=[idempotency.PARAMETER],
        request=InputSerializer,
        responses={201: PhoneNumberObject, **error_responses(400, 401, 402, 403, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        number = numbers.phone_number_connect(company=request.tenant, **serializer.validated_data)  # type: ignore[attr-defined]  # set by the tenant middleware
        return Response(representations.phone_number_data(number), status=201)


class PhoneNumberDisconnectApi(APIView):
    @extend_schema(
        operation_id="phone_numbers_destroy",
        summary="Disconnect a phone number",
        description="Stops routing its messages here and forgets its token; its threads and messages stay.",
        responses={204: None, **error_responses(401, 403, 404, 429)},
    )
    def delete(self, request: Request, id: uuid.UUID) -> Response:
        company = request.tenant  # type: ignore[attr-defined]  # set by the tenant middleware
        number = selectors.phone_number_get_connected(company=company, public_id=id)
        numbers.phone_number_disconnect(company=company, phone_number=number)
        return Response(status=204)
