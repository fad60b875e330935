"""Message templates (design/API.md "Templates")."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiError, CursorPagination, error_responses
from inbox import representations, selectors
from inbox.api import idempotency
from inbox.api.common import page_response
from inbox.api.objects import TemplateObject
from inbox.models import Template
from inbox.services import templates


class TemplateListApi(APIView):
    """Templates, newest first."""

    pagination_class = CursorPagination

    @extend_schema(
        operation_id="templates_list",
        summary="List templates",
        responses={200: TemplateObject(many=True), **error_responses(401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        return page_response(self, request, selectors.template_list(), representations.template_data)


class TemplateCreateApi(APIView):
    @extend_schema_serializer(component_name="TemplateCreateInput")
    class InputSerializer(serializers.Serializer[Any]):
        name = serializers.CharField(max_length=512, help_text="Lowercase letters, digits, underscores.")
        language = serializers.CharField(max_length=16, help_text="e.g. `en`, `de`, `pt_BR`.")
        category = serializers.ChoiceField(choices=Template.Category.values)
        header = serializers.CharField(required=False, allow_blank=True, default="", max_length=60)
        body = serializers.CharField(max_length=1024, help_text="With `{{1}}` … or `{{name}}` parameters.")
        footer = serializers.CharField(required=False, allow_blank=True, default="", max_length=60)
        buttons = serializers.ListField(
            child=serializers.DictField(),
            required=False,
            default=list,
            max_length=10,
            help_text="Up to 10 objects, each with a `type` and a `text`.",
        )

    @extend_schema(
        operation_id="templates_create",
        summary="Create a template (draft)",
        parameters=[idempotency.PARAMETER],
        request=InputSerializer,
        responses={201: TemplateObject, **error_responses(400, 401, 403, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = templates.template_create(**serializer.validated_data)
        return Response(representations.template_data(template), status=201)


class TemplateDetailApi(APIView):
    @extend_schema(
        operation_id="templates_retrieve",
        summary="Get a template",
        responses={200: TemplateObject, **error_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:
        template = selectors.template_get(public_id=id)
        return Response(representations.template_data(template))


class TemplateSubmitApi(APIView):
    @extend_schema(
        operation_id="templates_submit",
        summary="Submit a template for review",
        description=(
            "Answers 202 with the template: `approved` at once with the sandbox provider, else `pending` "
            "until an operator decides. Only a `draft` or `rejected` template can be submitted; "
            "otherwise 409 `conflict`."
        ),
        parameters=[idempotency.PARAMETER],
        request=None,
        responses={202: TemplateObject, **error_responses(401, 403, 404, 409, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        template = selectors.template_get(public_id=id)
        try:
            template = templates.template_submit(template=template)
        except templates.TemplateNotSubmittableError as exc:
            raise ApiError(409, "conflict", exc.message) from exc
        return Response(representations.template_data(template), status=202)
