"""Rows for outgoing-webhook tests. Create them inside a company's schema (tenant_a/tenant_b)."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from inbox.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from inbox.representations import iso


class WebhookSubscriptionFactory(factory.django.DjangoModelFactory[WebhookSubscription]):
    class Meta:
        model = WebhookSubscription

    url = factory.Sequence(lambda n: f"https://hooks{n}.example.com/kontakt")
    events = factory.LazyFunction(lambda: list(WebhookSubscription.Event.values))
    secret = factory.LazyFunction(lambda: "whsec_" + secrets.token_urlsafe(32))

    class Params:
        # Rotated an hour ago: the previous secret still signs for 23 hours.
        rotated = factory.Trait(
            previous_secret=factory.LazyFunction(lambda: "whsec_" + secrets.token_urlsafe(32)),
            previous_secret_expires_at=factory.LazyFunction(lambda: timezone.now() + timedelta(hours=23)),
        )


class WebhookEventFactory(factory.django.DjangoModelFactory[WebhookEvent]):
    """An event due now, never attempted; `payload` is the envelope as publishing writes it."""

    class Meta:
        model = WebhookEvent

    class Params:
        company = "globex"
        data = factory.LazyFunction(lambda: {"id": str(uuid.uuid4()), "text": "Hello"})

    subscription = factory.SubFactory(WebhookSubscriptionFactory)
    public_id = factory.LazyFunction(uuid.uuid4)
    event_type = WebhookSubscription.Event.MESSAGE_RECEIVED
    created_at = factory.LazyFunction(timezone.now)
    next_retry_at = factory.LazyAttribute(lambda o: o.created_at)
    attempts = 0
    payload = factory.LazyAttribute(
        lambda o: {
            "id": str(o.public_id),
            "type": o.event_type,
            "created_at": iso(o.created_at),
            "company": o.company,
            "data": o.data,
        }
    )


class WebhookDeliveryFactory(factory.django.DjangoModelFactory[WebhookDelivery]):
    """An attempt that was answered 200 in 42 ms."""

    class Meta:
        model = WebhookDelivery

    event = factory.SubFactory(WebhookEventFactory, attempts=1, delivered_at=factory.LazyFunction(timezone.now))
    attempt = 1
    status_code = 200
    duration_ms = 42
    started_at = factory.LazyFunction(timezone.now)
