"""Every read of outgoing-webhook rows used by views, the API and tasks.

The `_get` functions are the only door from a URL to a row: they answer 404 for anything
outside the current company's schema (another company's id looks unknown).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from inbox.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from tenants.models import Company


def company_webhooks_allowed(company: Company) -> bool:
    """Whether the company's plan includes outgoing webhooks (the plan row's flag)."""
    return company.plan is not None and company.plan.outgoing_webhooks


def company_list_with_webhooks() -> QuerySet[Company]:
    """Companies whose schemas may hold webhook events to deliver (same rule as above)."""
    return Company.objects.filter(
        status__in=(Company.Status.ACTIVE, Company.Status.SUSPENDED), plan__outgoing_webhooks=True
    ).order_by("id")


def company_current() -> Company:
    """The company whose schema the connection is in (a request's, a task's, a test's)."""
    tenant = connection.tenant
    if isinstance(tenant, Company):
        return tenant
    return Company.objects.select_related("plan").get(schema_name=connection.schema_name)


def webhook_subscription_list() -> QuerySet[WebhookSubscription]:
    """The company's subscriptions, newest first."""
    return WebhookSubscription.objects.order_by("-created_at", "-id")


def webhook_subscription_get(*, public_id: uuid.UUID) -> WebhookSubscription:
    """The subscription with this id in the current company, or 404."""
    return get_object_or_404(WebhookSubscription, public_id=public_id)


def webhook_delivery_list(*, subscription: WebhookSubscription) -> QuerySet[WebhookDelivery]:
    """Every attempt for this subscription, newest first, with its event."""
    return (
        WebhookDelivery.objects.filter(event__subscription=subscription)
        .select_related("event")
        .order_by("-created_at", "-id")
    )


def webhook_delivery_get(*, subscription: WebhookSubscription, public_id: uuid.UUID) -> WebhookDelivery:
    """The attempt with this id under this subscription, or 404."""
    return get_object_or_404(
        WebhookDelivery.objects.select_related("event"), event__subscription=subscription, public_id=public_id
    )


def webhook_event_list_due(*, now: datetime, limit: int) -> list[tuple[int, int]]:
    """`(event pk, attempts so far)` of events whose next attempt is due, oldest due first.

    Only events of active subscriptions: a disabled one keeps its events until enabled again.
    """
    return list(
        WebhookEvent.objects.filter(
            delivered_at__isnull=True,
            gave_up_at__isnull=True,
            next_retry_at__lte=now,
            subscription__is_active=True,
        )
        .order_by("next_retry_at", "id")
        .values_list("pk", "attempts")[:limit]
    )
