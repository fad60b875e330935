"""Broadcasts (design/API.md "Broadcasts"): create, list, read, dry run, start, pause,
resume, cancel, recipients.

A broadcast is addressed by its public id; another company's id is simply unknown here
(404). State changes answer 202 with the broadcast as it is now; a state that forbids
the action answers 409 `conflict`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiError, CursorPagination, ErrorSerializer, error_responses
from inbox import broadcast_selectors, selectors
from inbox.api import idempotency
from inbox.api.common import page_response
from inbox.errors import TemplateNotApprovedError
from inbox.models import Broadcast, Template
from inbox.services import broadcasts

TEMPLATE_UNKNOWN = _("There is no template {name!r} in language {language!r}.")
FROM_UNKNOWN = _("No connected number of this company has this id.")
AUDIENCE_NEEDS = _("An audience of type {type} needs `{field}`.")
NO_NUMBER = _("The company has no connected number; connect one first.")

PARAMETERS_HELP = (
    "A list (positional `{{1}}` …) or an object (named `{{name}}`). Each value is fixed text, or a "
    'reference filled per recipient: `{"contact": "name"}` (the contact\'s name), `{"contact": "phone"}`, '
    '`{"contact": "<attribute>"}` (a contact attribute), `{"column": "<name>"}` (a column of the CSV '
    'upload, CSV audiences only); each may add `"default": "<text>"` for a missing or empty value.'
)
ERRORS_409_CREATE = "`conflict`: the template is not approved, or the company has no connected number."
ERRORS_409_ACTION = "`conflict`: the broadcast's status forbids the action (e.g. start a completed broadcast)."


# --- OpenAPI objects (the bodies are built by inbox.broadcast_selectors) ----------------------


@extend_schema_serializer(component_name="BroadcastCounts")
class BroadcastCountsObject(serializers.Serializer[Any]):
    total = serializers.IntegerField(help_text="Recipients in the snapshot (0 until started).")
    queued = serializers.IntegerField()
    sending = serializers.IntegerField()
    sent = serializers.IntegerField(help_text="Accepted by the provider, no delivery report yet.")
    delivered = serializers.IntegerField()
    read = serializers.IntegerField()
    failed = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="Left out during the run (an opt-out mid-run, a cancel).")


@extend_schema_serializer(component_name="BroadcastTemplate")
class BroadcastTemplateObject(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField()
    language = serializers.CharField()
    category = serializers.ChoiceField(choices=Template.Category.values)


@extend_schema_serializer(component_name="BroadcastCanary")
class CanaryInput(serializers.Serializer[Any]):
    count = serializers.IntegerField(required=False, min_value=1, help_text="Recipients in the canary.")
    percent = serializers.DecimalField(
        required=False, max_digits=5, decimal_places=2, help_text="Or: this share of the audience (1 means 1 %)."
    )
    hold_seconds = serializers.IntegerField(
        required=False, min_value=0, max_value=86400, help_text="Seconds to wait for statuses; default 600."
    )


@extend_schema_serializer(component_name="BroadcastCanaryState")
class CanaryObject(CanaryInput):
    size = serializers.IntegerField(allow_null=True, help_text="Recipients in the canary, once started.")


@extend_schema_serializer(component_name="Broadcast")
class BroadcastObject(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=Broadcast.Status.values)
    paused_reason = serializers.CharField(help_text="Why a paused broadcast stopped; empty otherwise.")
    paused_code = serializers.ChoiceField(
        choices=["", *Broadcast.PausedCode.values],
        help_text="Why it paused, for programs: `manual`, or the circuit breaker's reason (`failure_rate`, "
        "`error_burst`, `throttled`, `provider_stop`, `template_paused`, `canary_failed`); empty otherwise.",
    )
    phase = serializers.ChoiceField(
        choices=Broadcast.Phase.values,
        help_text="`canary`, `canary_hold` (waiting for the canary's statuses) or empty.",
    )
    phase_detail = serializers.CharField(help_text='For people, e.g. "canary: waiting 600 s for statuses".')
    canary = CanaryObject(allow_null=True)
    failure_threshold = serializers.FloatField(allow_null=True, help_text="Null: the server's default.")
    counts = BroadcastCountsObject(help_text="Each recipient once, in its current state: the counts add up to `total`.")
    started_at = serializers.DateTimeField(allow_null=True)
    completed_at = serializers.DateTimeField(allow_null=True)
    template = BroadcastTemplateObject()
    parameters = serializers.JSONField(help_text=PARAMETERS_HELP)
    from_ = serializers.UUIDField(help_text="The id of the phone number it is sent from.")
    audience = serializers.DictField(help_text="As given at creation, with public ids.")
    scheduled_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


@extend_schema_serializer(component_name="BroadcastCost")
class BroadcastCostObject(serializers.Serializer[Any]):
    currency = serializers.CharField()
    total = serializers.CharField(help_text="A decimal amount as text.")
    by_category = serializers.DictField(help_text='`{"<category>": {"count", "amount"}}`.')


@extend_schema_serializer(component_name="BroadcastDryRun")
class BroadcastDryRunObject(serializers.Serializer[Any]):
    audience = serializers.IntegerField(help_text="Recipients if started now.")
    excluded = serializers.DictField(
        child=serializers.IntegerField(),
        help_text=(
            "Left out, by reason: `opted_out`, `not_opted_in`, `marketing_opted_out`, `invalid_phone`, "
            "`duplicate` (CSV lines repeating a phone)."
        ),
    )
    cost = BroadcastCostObject()
    estimated_seconds = serializers.FloatField(allow_null=True, help_text="At the number's current rate limit.")


@extend_schema_serializer(component_name="RecipientContact")
class RecipientContactObject(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    phone = serializers.CharField()


@extend_schema_serializer(component_name="RecipientError")
class RecipientErrorObject(serializers.Serializer[Any]):
    code = serializers.IntegerField(allow_null=True, help_text="The provider's error code.")
    title = serializers.CharField()
    detail = serializers.CharField()


@extend_schema_serializer(component_name="BroadcastRecipient")
class RecipientObject(serializers.Serializer[Any]):
    contact = RecipientContactObject(allow_null=True, help_text="Null when the contact was deleted since.")
    status = serializers.ChoiceField(choices=broadcast_selectors.RECIPIENT_STATUSES)
    skip_reason = serializers.CharField(
        allow_null=True,
        help_text=(
            "For `skipped`: `opted_out`, `not_opted_in`, `marketing_opted_out`, `cancelled`, `contact_deleted`, "
            "`erased` (the contact was erased on request)."
        ),
    )
    error = RecipientErrorObject(allow_null=True)
    message = serializers.UUIDField(allow_null=True, help_text="The message in the contact's thread.")
    wamid = serializers.CharField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)


# --- views ------------------------------------------------------------------------------------


def _broadcast(id: uuid.UUID) -> Broadcast:
    return broadcast_selectors.broadcast_get_or_404(public_id=id)


class BroadcastListApi(APIView):
    """Broadcasts, newest first."""

    pagination_class = CursorPagination

    class FilterSerializer(serializers.Serializer[Any]):
        status = serializers.ChoiceField(choices=Broadcast.Status.values, required=False)

    @extend_schema(
        operation_id="broadcasts_list",
        summary="List broadcasts",
        parameters=[FilterSerializer],
        responses={200: BroadcastObject(many=True), **error_responses(400, 401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = broadcast_selectors.broadcast_queryset()
        if "status" in filters.validated_data:
            queryset = queryset.filter(status=filters.validated_data["status"])
        paginator = CursorPagination()
        page = paginator.paginate_queryset(queryset, request, view=self) or []
        counts = broadcast_selectors.broadcast_counts_many(broadcasts=page)
        return paginator.get_paginated_response(
            [broadcast_selectors.broadcast_data(b, counts=counts[b.pk]) for b in page]
        )


class BroadcastCreateApi(APIView):
    @extend_schema_serializer(component_name="BroadcastCreateInput")
    class InputSerializer(serializers.Serializer[Any]):
        @extend_schema_serializer(component_name="BroadcastCreateTemplate")
        class TemplateSerializer(serializers.Serializer[Any]):
            name = serializers.CharField(max_length=512)
            language = serializers.CharField(max_length=16)

        @extend_schema_serializer(component_name="BroadcastAudience")
        class AudienceSerializer(serializers.Serializer[Any]):
            type = serializers.ChoiceField(choices=Broadcast.AudienceType.values)
            labels = serializers.ListField(
                child=serializers.CharField(max_length=50), required=False, help_text="For `labels`: any of these."
            )
            filter = serializers.DictField(
                required=False, help_text="For `filter`: contact attributes and the values they must have."
            )
            upload_id = serializers.UUIDField(required=False, help_text="For `csv`: the id from `POST /uploads/`.")
            broadcast = serializers.UUIDField(required=False, help_text="For `broadcast`: the earlier broadcast.")
            only_unread = serializers.BooleanField(
                required=False, default=False, help_text="For `broadcast`: only those who have not read it."
            )

            def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
                needed = {"labels": "labels", "filter": "filter", "csv": "upload_id", "broadcast": "broadcast"}
                field = needed.get(attrs["type"])
                if field and field not in attrs:
                    raise serializers.ValidationError({field: [AUDIENCE_NEEDS.format(type=attrs["type"], field=field)]})
                return attrs

        name = serializers.CharField(max_length=200)
        template = TemplateSerializer()
        parameters = serializers.JSONField(required=False, help_text=PARAMETERS_HELP)
        audience = AudienceSerializer()
        from_ = serializers.UUIDField(
            required=False, help_text="The phone number's id to send from; default: the company's first number."
        )
        scheduled_at = serializers.DateTimeField(
            required=False, allow_null=True, help_text="Start at this time (after `start/`); null: at once."
        )
        canary = CanaryInput(
            required=False,
            allow_null=True,
            help_text=(
                "Send to the first `count` recipients (or `percent` %, at least one) first, hold "
                "`hold_seconds` while their statuses come in, then go on, or pause when too many failed."
            ),
        )
        failure_threshold = serializers.FloatField(
            required=False,
            allow_null=True,
            help_text=(
                "The circuit breaker pauses the broadcast when more than this share (0-1] of its recent "
                "messages failed; null: the server's default (0.2)."
            ),
        )

        def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
            # `from` is a Python keyword: declared as `from_`, exposed as `from`.
            fields = super().get_fields()
            fields["from"] = fields.pop("from_")
            return fields

        def validate_parameters(self, value: Any) -> Any:
            if not isinstance(value, list | dict):
                raise serializers.ValidationError(_("Give a list or an object."))
            return value

    @extend_schema(
        operation_id="broadcasts_create",
        summary="Create a broadcast (draft)",
        description=(
            "Answers 201 with the broadcast in `draft`. Nothing is sent until `start/`; a dry run "
            "shows the audience and cost first. An unknown label, upload or earlier broadcast, or a "
            "parameter naming a column the upload lacks, answers 400 `invalid`."
        ),
        parameters=[idempotency.PARAMETER],
        request=InputSerializer,
        responses={
            201: BroadcastObject,
            **error_responses(400, 401, 403),
            409: OpenApiResponse(response=ErrorSerializer, description=ERRORS_409_CREATE),
            **error_responses(422, 429),
        },
    )
    @idempotency.idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        template = broadcast_selectors.template_find(
            name=data["template"]["name"], language=data["template"]["language"]
        )
        if template is None:
            message = TEMPLATE_UNKNOWN.format(name=data["template"]["name"], language=data["template"]["language"])
            raise serializers.ValidationError({"template": [message]})
        phone_number = _phone_number(request, data.get("from"))
        audience = {
            key: str(value) if isinstance(value, uuid.UUID) else value for key, value in data["audience"].items()
        }
        try:
            broadcast = broadcasts.broadcast_create(
                name=data["name"],
                template=template,
                phone_number=phone_number,
                audience=audience,
                template_parameters=data.get("parameters"),
                scheduled_at=data.get("scheduled_at"),
                created_by=None,
                canary=dict(data["canary"]) if data.get("canary") is not None else None,
                failure_threshold=data.get("failure_threshold"),
            )
        except TemplateNotApprovedError as exc:
            raise ApiError(409, "conflict", exc.message) from exc
        return Response(broadcast_selectors.broadcast_data(broadcast), status=201)


def _phone_number(request: Request, public_id: uuid.UUID | None) -> Any:
    company = request.tenant  # type: ignore[attr-defined]  # set by the tenant middleware
    if public_id is not None:
        try:
            return selectors.phone_number_get_connected(company=company, public_id=public_id)
        except Http404:
            raise serializers.ValidationError({"from": [FROM_UNKNOWN]}) from None
    number = broadcast_selectors.phone_number_default(company=company)
    if number is None:
        raise ApiError(409, "conflict", NO_NUMBER)
    return number


class BroadcastDetailApi(APIView):
    @extend_schema(
        operation_id="broadcasts_retrieve",
        summary="Get a broadcast with its progress",
        description=(
            "The counts of a large running broadcast may be a few seconds old (they are cached "
            "briefly: counting a million recipients reads a million rows)."
        ),
        responses={200: BroadcastObject, **error_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:
        broadcast = _broadcast(id)
        counts = broadcast_selectors.broadcast_counts_cached(broadcast=broadcast)
        return Response(broadcast_selectors.broadcast_data(broadcast, counts=counts))


class BroadcastDryRunApi(APIView):
    @extend_schema(
        operation_id="broadcasts_dry_run",
        summary="Dry run: audience, exclusions, cost and duration",
        description="Counts who would receive the broadcast if it started now; sends nothing.",
        parameters=[idempotency.PARAMETER],
        request=None,
        responses={200: BroadcastDryRunObject, **error_responses(401, 403, 404, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        result = broadcasts.broadcast_dry_run(broadcast=_broadcast(id))
        return Response(
            {
                "audience": result["audience"],
                "excluded": result["excluded"],
                "cost": result["cost"],
                "estimated_seconds": result["estimated_seconds"],
            }
        )


def _action(
    request: Request, id: uuid.UUID, act: Callable[[Broadcast], Broadcast]
) -> Response:  # one shape for start, pause, resume, cancel
    broadcast = _broadcast(id)
    try:
        broadcast = act(broadcast)
    except broadcasts.BroadcastStateError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    except TemplateNotApprovedError as exc:
        raise ApiError(409, "conflict", exc.message) from exc
    return Response(broadcast_selectors.broadcast_data(broadcast), status=202)


def _action_schema(operation: str, summary: str, description: str) -> Callable[[Any], Any]:
    return extend_schema(
        operation_id=f"broadcasts_{operation}",
        summary=summary,
        description=description,
        parameters=[idempotency.PARAMETER],
        request=None,
        responses={
            202: BroadcastObject,
            **error_responses(401, 402, 403, 404),
            409: OpenApiResponse(response=ErrorSerializer, description=ERRORS_409_ACTION),
            **error_responses(422, 429),
        },
    )


class BroadcastStartApi(APIView):
    @_action_schema(
        "start",
        "Start a broadcast",
        "Snapshots the audience and starts sending (a draft with `scheduled_at` ahead becomes "
        "`scheduled`). Only a `draft` or `scheduled` broadcast can start; a template no longer "
        "approved also answers 409.",
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        return _action(request, id, lambda b: broadcasts.broadcast_start(broadcast=b))


class BroadcastPauseApi(APIView):
    @_action_schema(
        "pause",
        "Pause a running broadcast",
        "Sending stops within one batch; unsent recipients wait. Only a `running` broadcast can pause.",
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        return _action(request, id, lambda b: broadcasts.broadcast_pause(broadcast=b, reason="Paused through the API"))


class BroadcastResumeApi(APIView):
    @_action_schema("resume", "Resume a paused broadcast", "Only a `paused` broadcast can resume.")
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        return _action(request, id, lambda b: broadcasts.broadcast_resume(broadcast=b))


class BroadcastCancelApi(APIView):
    @_action_schema(
        "cancel",
        "Cancel a broadcast",
        "Stops for good: recipients not sent yet are `skipped`. A completed, cancelled or failed "
        "broadcast answers 409.",
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        return _action(request, id, lambda b: broadcasts.broadcast_cancel(broadcast=b))


class BroadcastRecipientListApi(APIView):
    """A broadcast's recipients in the order they are sent (the snapshot's order)."""

    pagination_class = CursorPagination
    ordering = ("id",)

    class FilterSerializer(serializers.Serializer[Any]):
        status = serializers.ChoiceField(
            choices=broadcast_selectors.RECIPIENT_STATUSES,
            required=False,
            help_text="Only recipients in this current state.",
        )

    @extend_schema(
        operation_id="broadcasts_recipients",
        summary="List a broadcast's recipients",
        parameters=[FilterSerializer],
        responses={200: RecipientObject(many=True), **error_responses(400, 401, 403, 404, 429)},
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:
        broadcast = _broadcast(id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        queryset = broadcast_selectors.broadcast_recipient_queryset(
            broadcast=broadcast, status=filters.validated_data.get("status")
        )
        return page_response(self, request, queryset, broadcast_selectors.recipient_data)
