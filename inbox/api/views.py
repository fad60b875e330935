"""The company's REST API (design/API.md): one APIView per operation."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import error_responses
from inbox.api.auth import request_api_key
from tenants.models import Company
from tenants.selectors import company_is_verified


class MeApi(APIView):
    """The company and the key behind the request: an integrator's first call."""

    @extend_schema_serializer(component_name="Me")
    class OutputSerializer(serializers.Serializer[Any]):
        @extend_schema_serializer(component_name="MeCompany")
        class CompanySerializer(serializers.Serializer[Company]):
            slug = serializers.SlugField()
            name = serializers.CharField()
            plan = serializers.CharField(source="plan.code", help_text="`free` or `enterprise`.")
            verified = serializers.SerializerMethodField(
                help_text=(
                    "Whether an operator's verification of the business details stands (it is withdrawn "
                    "when the details are edited, until they are verified again)."
                )
            )

            def get_verified(self, company: Company) -> bool:
                return company_is_verified(company=company)

        @extend_schema_serializer(component_name="MeKey")
        class KeySerializer(serializers.Serializer[Any]):
            name = serializers.CharField()
            prefix = serializers.CharField(help_text="The key's public part, shown in Settings to tell keys apart.")

        company = CompanySerializer()
        key = KeySerializer()

    @extend_schema(
        operation_id="me_retrieve",
        summary="The company and API key of this request",
        responses={200: OutputSerializer, **error_responses(401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        company: Company = request.tenant  # type: ignore[attr-defined]  # set by CompanyHostMiddleware
        data = self.OutputSerializer({"company": company, "key": request_api_key(request)}).data
        return Response(data)
