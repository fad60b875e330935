"""Webhook subscriptions of the REST API (design/API.md "Webhook subscriptions")."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiError, CursorPagination, error_responses
from inbox import webhook_selectors
from inbox.api import idempotency
from inbox.api.common import page_response
from inbox.models import WebhookDelivery, WebhookSubscription
from inbox.services import webhooks

EVENTS_HELP = "Event types to receive: " + ", ".join(f"`{name}`" for name in webhooks.EVENT_TYPES) + "."


@extend_schema_serializer(component_name="WebhookSubscription")
class SubscriptionSerializer(serializers.Serializer[WebhookSubscription]):
    id = serializers.UUIDField(source="public_id")
    url = serializers.URLField()
    events = serializers.ListField(child=serializers.CharField(), help_text=EVENTS_HELP)
    is_active = serializers.BooleanField()
    previous_secret_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="Until then the previous secret also signs (after a rotation)."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="WebhookSubscriptionWithSecret")
class SubscriptionWithSecretSerializer(SubscriptionSerializer):
    secret = serializers.CharField(help_text="The signing secret. Shown only in this answer: store it now.")


@extend_schema_serializer(component_name="WebhookDelivery")
class DeliverySerializer(serializers.Serializer[WebhookDelivery]):
    id = serializers.UUIDField(source="public_id")
    event_id = serializers.UUIDField(source="event.public_id", help_text="Same as the `Kontakt-Event-Id` header.")
    event_type = serializers.CharField(source="event.event_type")
    attempt = serializers.IntegerField()
    status_code = serializers.IntegerField(allow_null=True, help_text="The receiver's answer; null if none (yet).")
    error = serializers.CharField(help_text="Why the attempt failed without an answer (timeout, refused …).")
    duration_ms = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    next_retry_at = serializers.DateTimeField(allow_null=True, help_text="When the next attempt follows this one.")


def _plan_error(exc: webhooks.WebhooksNotInPlanError) -> ApiError:
    return ApiError(
        402, "plan_limit_exceeded", exc.message, {"limit": exc.limit, "used": exc.used, "allowed": exc.allowed}
    )


class WebhookListApi(APIView):
    """The company's webhook subscriptions, newest first."""

    pagination_class = CursorPagination

    @extend_schema(
        operation_id="webhooks_list",
        summary="List webhook subscriptions",
        responses={200: SubscriptionSerializer(many=True), **error_responses(401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        subscriptions = webhook_selectors.webhook_subscription_list()
        return page_response(self, request, subscriptions, lambda row: SubscriptionSerializer(row).data)


class WebhookCreateApi(APIView):
    @extend_schema_serializer(component_name="WebhookCreateInput")
    class InputSerializer(serializers.Serializer[Any]):
        url = serializers.URLField(max_length=2000)
        events = serializers.ListField(child=serializers.CharField(max_length=64), max_length=20, help_text=EVENTS_HELP)

    @extend_schema(
        operation_id="webhooks_create",
        summary="Subscribe a URL to events",
        description="The answer carries the signing `secret`, shown only here.",
        parameters=[idempotency.PARAMETER],
        request=InputSerializer,
        responses={201: SubscriptionWithSecretSerializer, **error_responses(400, 401, 402, 403, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            subscription = webhooks.webhook_subscription_create(**serializer.validated_data)
        except webhooks.WebhooksNotInPlanError as exc:
            raise _plan_error(exc) from exc
        return Response(SubscriptionWithSecretSerializer(subscription).data, status=201)


class WebhookUpdateApi(APIView):
    @extend_schema_serializer(component_name="WebhookUpdateInput")
    class InputSerializer(serializers.Serializer[Any]):
        url = serializers.URLField(max_length=2000, required=False)
        events = serializers.ListField(child=serializers.CharField(max_length=64), max_length=20, required=False)
        is_active = serializers.BooleanField(required=False)

    @extend_schema(
        operation_id="webhooks_update",
        summary="Change a webhook subscription",
        request=InputSerializer,
        responses={200: SubscriptionSerializer, **error_responses(400, 401, 403, 404, 429)},
    )
    def patch(self, request: Request, id: uuid.UUID) -> Response:
        subscription = webhook_selectors.webhook_subscription_get(public_id=id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = webhooks.webhook_subscription_update(subscription=subscription, **serializer.validated_data)
        return Response(SubscriptionSerializer(subscription).data)


class WebhookDeleteApi(APIView):
    @extend_schema(
        operation_id="webhooks_destroy",
        summary="Delete a webhook subscription with its delivery history",
        responses={204: None, **error_responses(401, 403, 404, 429)},
    )
    def delete(self, request: Request, id: uuid.UUID) -> Response:
        subscription = webhook_selectors.webhook_subscription_get(public_id=id)
        webhooks.webhook_subscription_delete(subscription=subscription)
        return Response(status=204)


class WebhookRotateSecretApi(APIView):
    @extend_schema(
        operation_id="webhooks_rotate_secret",
        summary="Issue a new signing secret",
        description=(
            "The previous secret keeps signing, as a second `v1=`, for 24 hours. A retry with the same "
            "`Idempotency-Key` answers the first rotation's secret again and does not rotate twice."
        ),
        parameters=[idempotency.PARAMETER],
        request=None,
        responses={200: SubscriptionWithSecretSerializer, **error_responses(401, 403, 404, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        subscription = webhook_selectors.webhook_subscription_get(public_id=id)
        subscription = webhooks.webhook_subscription_rotate_secret(subscription=subscription)
        return Response(SubscriptionWithSecretSerializer(subscription).data)


class WebhookDeliveryListApi(APIView):
    pagination_class = CursorPagination

    @extend_schema(
        operation_id="webhooks_deliveries_list",
        summary="List delivery attempts, newest first",
        responses={200: DeliverySerializer(many=True), **error_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:
        subscription = webhook_selectors.webhook_subscription_get(public_id=id)
        deliveries = webhook_selectors.webhook_delivery_list(subscription=subscription)
        return page_response(self, request, deliveries, lambda row: DeliverySerializer(row).data)


class WebhookDeliveryReplayApi(APIView):
    @extend_schema(
        operation_id="webhooks_deliveries_replay",
        summary="Send a delivery's event again now",
        description="Answers 202 with the new attempt, queued; it shows in `deliveries/` when answered.",
        parameters=[idempotency.PARAMETER],
        request=None,
        responses={202: DeliverySerializer, **error_responses(401, 403, 404, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID, delivery_id: uuid.UUID) -> Response:
        subscription = webhook_selectors.webhook_subscription_get(public_id=id)
        delivery = webhook_selectors.webhook_delivery_get(subscription=subscription, public_id=delivery_id)
        replay = webhooks.webhook_delivery_replay(delivery=delivery)
        return Response(DeliverySerializer(replay).data, status=202)
