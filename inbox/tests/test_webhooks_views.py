"""Settings → Webhooks in the browser (`/settings/webhooks/`): owners and admins only."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from conftest import Persona
from inbox.models import WebhookDelivery, WebhookSubscription
from inbox.tests.factories_webhooks import WebhookDeliveryFactory, WebhookSubscriptionFactory
from inbox.tests.webhook_receiver import FakeDns, tasks_enqueued
from tenants.models import Company

Capture = Callable[..., Any]
SettingsWrapper = Any  # pytest-django's `settings` fixture
SECRET = re.compile(r"whsec_[\w-]{43}")
PUBLIC_URL = "https://hooks.example.com/kontakt"


@pytest.fixture(autouse=True)
def dns(settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    monkeypatch.setattr(socket, "getaddrinfo", FakeDns({"hooks.example.com": ["93.184.216.34"]}))


def test_created_webhook_shows_its_secret_once(charlie_client: Client, tenant_b: Company) -> None:
    # when
    created = charlie_client.post("/settings/webhooks/", {"url": PUBLIC_URL, "events": ["message.received"]})
    # then
    assert created.status_code == 200
    assert "no-store" in created["Cache-Control"]
    subscription = WebhookSubscription.objects.get()
    assert (subscription.url, subscription.events) == (PUBLIC_URL, ["message.received"])
    assert subscription.secret in created.content.decode()
    later = charlie_client.get("/settings/webhooks/").content.decode()
    assert SECRET.search(later) is None
    assert PUBLIC_URL in later


def test_loopback_url_is_refused_with_a_reason(charlie_client: Client, tenant_b: Company) -> None:
    # when
    response = charlie_client.post(
        "/settings/webhooks/", {"url": "http://127.0.0.1:8000/hook", "events": ["message.received"]}
    )
    # then
    assert response.status_code == 400
    assert "not a public internet address" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_free_plan_sees_the_upgrade_notice_and_cannot_create(alice_client: Client, tenant_a: Company) -> None:
    # when
    page = alice_client.get("/settings/webhooks/")
    posted = alice_client.post("/settings/webhooks/", {"url": PUBLIC_URL, "events": ["message.received"]})
    # then
    assert page.status_code == 200
    assert "part of the Enterprise plan" in page.content.decode()
    assert posted.status_code == 402
    assert not WebhookSubscription.objects.exists()


def test_agents_get_a_readable_403(bob_client: Client, tenant_a: Company) -> None:
    # given
    subscription = WebhookSubscriptionFactory()
    # when
    page = bob_client.get("/settings/webhooks/")
    toggled = bob_client.post(f"/settings/webhooks/{subscription.public_id}/toggle/")
    # then
    assert page.status_code == 403
    assert "Only owners and admins" in page.content.decode()
    assert toggled.status_code == 403
    subscription.refresh_from_db()
    assert subscription.is_active


def test_toggle_disables_then_enables(charlie_client: Client, tenant_b: Company) -> None:
    # given
    subscription = WebhookSubscriptionFactory()
    # when
    disabled = charlie_client.post(f"/settings/webhooks/{subscription.public_id}/toggle/", follow=True)
    subscription.refresh_from_db()
    was_active = subscription.is_active
    charlie_client.post(f"/settings/webhooks/{subscription.public_id}/toggle/")
    # then
    assert disabled.status_code == 200
    assert "is disabled" in disabled.content.decode()
    assert was_active is False
    subscription.refresh_from_db()
    assert subscription.is_active


def test_rotate_shows_the_new_secret_once(charlie_client: Client, tenant_b: Company) -> None:
    # given
    subscription = WebhookSubscriptionFactory()
    old_secret = subscription.secret
    # when
    response = charlie_client.post(f"/settings/webhooks/{subscription.public_id}/rotate-secret/")
    # then
    assert response.status_code == 200
    subscription.refresh_from_db()
    page = response.content.decode()
    assert subscription.secret in page
    assert old_secret not in page
    assert subscription.previous_secret == old_secret
    assert (
        subscription.secret not in charlie_client.get(f"/settings/webhooks/{subscription.public_id}/").content.decode()
    )


def test_delete_removes_the_webhook(charlie_client: Client, tenant_b: Company) -> None:
    # given
    subscription = WebhookSubscriptionFactory()
    # when
    response = charlie_client.post(f"/settings/webhooks/{subscription.public_id}/delete/", follow=True)
    # then
    assert response.status_code == 200
    assert "was deleted" in response.content.decode()
    assert not WebhookSubscription.objects.exists()


def test_detail_lists_recent_attempts_with_status_latency_and_replay(charlie_client: Client, tenant_b: Company) -> None:
    # given
    delivery = WebhookDeliveryFactory(status_code=503, duration_ms=1234)
    subscription = delivery.event.subscription
    # when
    response = charlie_client.get(f"/settings/webhooks/{subscription.public_id}/")
    # then
    assert response.status_code == 200
    page = response.content.decode()
    assert "503" in page
    assert "1234 ms" in page
    assert f"/settings/webhooks/{subscription.public_id}/deliveries/{delivery.public_id}/replay/" in page
    assert "csrfmiddlewaretoken" in page


def test_detail_queries_do_not_grow_with_attempts(charlie_client: Client, tenant_b: Company) -> None:
    # given
    subscription = WebhookSubscriptionFactory()
    WebhookDeliveryFactory(event__subscription=subscription)
    path = f"/settings/webhooks/{subscription.public_id}/"
    with CaptureQueriesContext(connection) as few:
        charlie_client.get(path)
    WebhookDeliveryFactory.create_batch(5, event__subscription=subscription)
    # when
    with CaptureQueriesContext(connection) as many:
        charlie_client.get(path)
    # then
    assert len(many) == len(few)


def test_replay_queues_a_new_attempt(
    charlie_client: Client, tenant_b: Company, django_capture_on_commit_callbacks: Capture
) -> None:
    # given
    delivery = WebhookDeliveryFactory()
    subscription = delivery.event.subscription
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        response = charlie_client.post(
            f"/settings/webhooks/{subscription.public_id}/deliveries/{delivery.public_id}/replay/", follow=True
        )
    # then
    assert response.status_code == 200
    assert "being sent again (attempt 2)" in response.content.decode()
    replay = WebhookDelivery.objects.get(attempt=2)
    assert tasks_enqueued(callbacks) == [("inbox.tasks.webhook_delivery_send_task", (replay.pk,))]


def test_user_text_is_escaped(charlie_client: Client, tenant_b: Company) -> None:
    # given a URL carrying markup in its query
    subscription = WebhookSubscriptionFactory(url="https://hooks.example.com/k?q=<script>alert(1)</script>")
    # when
    listing = charlie_client.get("/settings/webhooks/").content.decode()
    detail = charlie_client.get(f"/settings/webhooks/{subscription.public_id}/").content.decode()
    # then
    for page in (listing, detail):
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/settings/webhooks/{subscription}/"),
        ("post", "/settings/webhooks/{subscription}/toggle/"),
        ("post", "/settings/webhooks/{subscription}/rotate-secret/"),
        ("post", "/settings/webhooks/{subscription}/delete/"),
        ("post", "/settings/webhooks/{subscription}/deliveries/{delivery}/replay/"),
    ],
)
def test_charlie_gets_404_for_acmes_webhook(
    charlie_client: Client, company_a: Company, alice: Persona, method: str, path: str
) -> None:
    # given
    with schema_context(company_a.schema_name):
        delivery = WebhookDeliveryFactory()
    subscription = delivery.event.subscription
    # when
    response = getattr(charlie_client, method)(
        path.format(subscription=subscription.public_id, delivery=delivery.public_id)
    )
    # then
    assert response.status_code == 404
    with schema_context(company_a.schema_name):
        subscription.refresh_from_db()
        assert subscription.is_active
        assert WebhookDelivery.objects.count() == 1
