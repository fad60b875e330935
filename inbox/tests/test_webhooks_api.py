"""`/api/v1/webhooks/…`: webhook subscriptions over the REST API (design/API.md).

Charlie's company B is on the enterprise plan and uses webhooks; alice's company A (free)
has none, except rows the factories put there to prove B cannot reach them.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.services import IssuedApiKey
from conftest import Persona
from inbox.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from inbox.services import webhooks
from inbox.tests.factories_webhooks import (
    WebhookDeliveryFactory,
    WebhookEventFactory,
    WebhookSubscriptionFactory,
)
from inbox.tests.webhook_receiver import FakeDns, tasks_enqueued
from tenants.models import Company

ApiClient = Callable[..., Client]
Capture = Callable[..., Any]
SettingsWrapper = Any  # pytest-django's `settings` fixture
PUBLIC_URL = "https://hooks.example.com/kontakt"


@pytest.fixture(autouse=True)
def dns(settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """The guard is on, as in production; example names resolve without the network."""
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    fake = FakeDns(
        {
            "hooks.example.com": ["93.184.216.34"],
            "other.example.com": ["93.184.216.35"],
            "intranet.example.com": ["10.0.0.7"],
        }
    )
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture
def charlie_api(api_client: ApiClient, charlie: Persona, charlie_key: IssuedApiKey) -> Client:
    return api_client(charlie, charlie_key)


@pytest.fixture
def acme_subscription(company_a: Company) -> Iterator[WebhookSubscription]:
    """A subscription in company A, for charlie to fail to reach."""
    with schema_context(company_a.schema_name):
        yield WebhookSubscriptionFactory()


@pytest.fixture
def acme_delivery(company_a: Company, acme_subscription: WebhookSubscription) -> WebhookDelivery:
    with schema_context(company_a.schema_name):
        return WebhookDeliveryFactory(event__subscription=acme_subscription)


def _post(client: Client, path: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(path, json.dumps(body or {}), content_type="application/json")


def _patch(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.patch(path, json.dumps(body), content_type="application/json")


# --- create ----------------------------------------------------------------------------------


def test_create_answers_201_with_the_secret(charlie_api: Client, charlie: Persona) -> None:
    # when
    response = _post(
        charlie_api, "/api/v1/webhooks/", {"url": PUBLIC_URL, "events": ["thread.updated", "message.received"]}
    )
    # then
    assert response.status_code == 201
    body = response.json()
    with schema_context(charlie.company.schema_name):
        subscription = WebhookSubscription.objects.get()
    assert body == {
        "id": str(subscription.public_id),
        "url": PUBLIC_URL,
        "events": ["message.received", "thread.updated"],
        "is_active": True,
        "previous_secret_expires_at": None,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "secret": subscription.secret,
    }
    assert body["created_at"].endswith("Z")
    assert subscription.secret.startswith("whsec_")


def test_unknown_event_names_are_invalid(charlie_api: Client) -> None:
    # when
    response = _post(
        charlie_api, "/api/v1/webhooks/", {"url": PUBLIC_URL, "events": ["message.received", "order.paid"]}
    )
    # then
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["details"] == {
        "events": [
            "Unknown event type(s): order.paid. Choose from: message.received, message.status, "
            "thread.updated, broadcast.completed."
        ]
    }


def test_no_events_is_invalid(charlie_api: Client) -> None:
    # when
    response = _post(charlie_api, "/api/v1/webhooks/", {"url": PUBLIC_URL, "events": []})
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"events": [webhooks.EVENTS_REQUIRED]}


@pytest.mark.parametrize(
    ("url", "message_part"),
    [
        ("http://127.0.0.1:8000/hook", "resolves to 127.0.0.1"),
        ("http://[::1]/hook", "resolves to ::1"),
        ("http://169.254.169.254/latest/meta-data", "resolves to 169.254.169.254"),
        ("https://intranet.example.com/hook", "resolves to 10.0.0.7"),
        ("ftp://hooks.example.com/", "http:// or https://"),
    ],
)
def test_urls_that_do_not_reach_the_public_internet_are_invalid(
    charlie_api: Client, charlie: Persona, url: str, message_part: str
) -> None:
    # when
    response = _post(charlie_api, "/api/v1/webhooks/", {"url": url, "events": ["message.received"]})
    # then
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert message_part in error["details"]["url"][0]
    with schema_context(charlie.company.schema_name):
        assert not WebhookSubscription.objects.exists()


def test_private_url_is_accepted_when_private_targets_are_on(charlie_api: Client, settings: SettingsWrapper) -> None:
    # given a development setup
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    # when
    response = _post(
        charlie_api, "/api/v1/webhooks/", {"url": "http://127.0.0.1:9000/hook", "events": ["message.status"]}
    )
    # then
    assert response.status_code == 201


def test_free_plan_gets_402(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # when
    response = _post(
        api_client(alice, alice_key), "/api/v1/webhooks/", {"url": PUBLIC_URL, "events": ["message.received"]}
    )
    # then
    assert response.status_code == 402
    assert response.json() == {
        "error": {
            "code": "plan_limit_exceeded",
            "message": webhooks.WebhooksNotInPlanError.message,
            "details": {"limit": "outgoing_webhooks", "used": 0, "allowed": 0},
        }
    }


def test_create_needs_a_key(api_client: ApiClient, charlie: Persona) -> None:
    # when
    response = _post(api_client(charlie), "/api/v1/webhooks/", {"url": PUBLIC_URL, "events": ["message.received"]})
    # then
    assert response.status_code == 401


# --- list ------------------------------------------------------------------------------------


def test_list_shows_the_companys_subscriptions_newest_first_without_secrets(
    charlie_api: Client, charlie: Persona, acme_subscription: WebhookSubscription
) -> None:
    # given
    with schema_context(charlie.company.schema_name):
        older = WebhookSubscriptionFactory()
        newer = WebhookSubscriptionFactory()
    # when
    response = charlie_api.get("/api/v1/webhooks/")
    # then A's subscription is not there, and no secret is
    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["results"]] == [str(newer.public_id), str(older.public_id)]
    assert body["next"] is None
    assert all("secret" not in item for item in body["results"])
    assert older.secret not in response.content.decode()


def test_list_queries_do_not_grow_with_rows(charlie_api: Client, charlie: Persona) -> None:
    # given
    with schema_context(charlie.company.schema_name):
        WebhookSubscriptionFactory()
    charlie_api.get("/api/v1/webhooks/")  # the key's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        charlie_api.get("/api/v1/webhooks/")
    with schema_context(charlie.company.schema_name):
        WebhookSubscriptionFactory.create_batch(5)
    # when
    with CaptureQueriesContext(connection) as many:
        charlie_api.get("/api/v1/webhooks/")
    # then
    assert len(many) == len(few)


# --- update, delete -----------------------------------------------------------------------------


def test_patch_changes_events_and_disables(charlie_api: Client, charlie: Persona) -> None:
    # given
    with schema_context(charlie.company.schema_name):
        subscription = WebhookSubscriptionFactory(url=PUBLIC_URL)
    # when
    response = _patch(
        charlie_api, f"/api/v1/webhooks/{subscription.public_id}/", {"events": ["message.status"], "is_active": False}
    )
    # then
    assert response.status_code == 200
    assert (response.json()["events"], response.json()["is_active"]) == (["message.status"], False)
    assert "secret" not in response.json()
    with schema_context(charlie.company.schema_name):
        subscription.refresh_from_db()
    assert (subscription.events, subscription.is_active, subscription.url) == (["message.status"], False, PUBLIC_URL)


def test_patch_checks_a_new_url_like_create(charlie_api: Client, charlie: Persona) -> None:
    # given
    with schema_context(charlie.company.schema_name):
        subscription = WebhookSubscriptionFactory(url=PUBLIC_URL)
    # when
    refused = _patch(
        charlie_api, f"/api/v1/webhooks/{subscription.public_id}/", {"url": "https://intranet.example.com/"}
    )
    moved = _patch(charlie_api, f"/api/v1/webhooks/{subscription.public_id}/", {"url": "https://other.example.com/k"})
    # then
    assert refused.status_code == 400
    assert "url" in refused.json()["error"]["details"]
    assert moved.status_code == 200
    assert moved.json()["url"] == "https://other.example.com/k"


def test_patch_refuses_unknown_events(charlie_api: Client, charlie: Persona) -> None:
    # given
    with schema_context(charlie.company.schema_name):
        subscription = WebhookSubscriptionFactory()
    # when
    response = _patch(charlie_api, f"/api/v1/webhooks/{subscription.public_id}/", {"events": ["nope"]})
    # then
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["events"]


def test_charlie_gets_404_patching_acmes_subscription(
    charlie_api: Client, company_a: Company, acme_subscription: WebhookSubscription
) -> None:
    # when
    response = _patch(charlie_api, f"/api/v1/webhooks/{acme_subscription.public_id}/", {"is_active": False})
    # then
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    with schema_context(company_a.schema_name):
        assert WebhookSubscription.objects.get().is_active


def test_delete_answers_204_and_removes_history(charlie_api: Client, charlie: Persona) -> None:
    # given
    with schema_context(charlie.company.schema_name):
        delivery = WebhookDeliveryFactory()
    # when
    response = charlie_api.delete(f"/api/v1/webhooks/{delivery.event.subscription.public_id}/")
    # then
    assert response.status_code == 204
    with schema_context(charlie.company.schema_name):
        assert not WebhookSubscription.objects.exists()
        assert not WebhookEvent.objects.exists()


def test_charlie_gets_404_deleting_acmes_subscription(
    charlie_api: Client, company_a: Company, acme_subscription: WebhookSubscription
) -> None:
    # when
    response = charlie_api.delete(f"/api/v1/webhooks/{acme_subscription.public_id}/")
    # then
    assert response.status_code == 404
    with schema_context(company_a.schema_name):
        assert WebhookSubscription.objects.exists()


# --- rotate ----------------------------------------------------------------------------------


def test_rotate_answers_the_new_secret_and_keeps_the_old_one_for_24_hours(
    charlie_api: Client, charlie: Persona
) -> None:
    # given
    with schema_context(charlie.company.schema_name):
        subscription = WebhookSubscriptionFactory()
    old_secret = subscription.secret
    # when
    response = _post(charlie_api, f"/api/v1/webhooks/{subscription.public_id}/rotate-secret/")
    # then
    assert response.status_code == 200
    body = response.json()
    with schema_context(charlie.company.schema_name):
        subscription.refresh_from_db()
    assert body["secret"] == subscription.secret != old_secret
    assert subscription.previous_secret == old_secret
    assert subscription.previous_secret_expires_at is not None
    overlap = subscription.previous_secret_expires_at - timezone.now()
    assert timedelta(hours=23, minutes=59) < overlap <= timedelta(hours=24)
    assert subscription.signing_secrets(now=timezone.now()) == [subscription.secret, old_secret]


def test_charlie_gets_404_rotating_acmes_secret(
    charlie_api: Client, company_a: Company, acme_subscription: WebhookSubscription
) -> None:
    # when
    response = _post(charlie_api, f"/api/v1/webhooks/{acme_subscription.public_id}/rotate-secret/")
    # then
    assert response.status_code == 404
    with schema_context(company_a.schema_name):
        assert WebhookSubscription.objects.get().secret == acme_subscription.secret


# --- deliveries, replay --------------------------------------------------------------------------


def test_deliveries_list_each_attempt(charlie_api: Client, charlie: Persona) -> None:
    # given an event that failed once (retry due) and succeeded on the second attempt
    with schema_context(charlie.company.schema_name):
        event = WebhookEventFactory(attempts=2, delivered_at=timezone.now())
        retry_at = timezone.now() + timedelta(seconds=30)
        failed = WebhookDeliveryFactory(event=event, attempt=1, status_code=500, duration_ms=12, next_retry_at=retry_at)
        succeeded = WebhookDeliveryFactory(event=event, attempt=2)
    # when
    response = charlie_api.get(f"/api/v1/webhooks/{event.subscription.public_id}/deliveries/")
    # then newest first, with the contract's fields
    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["id"] for item in results] == [str(succeeded.public_id), str(failed.public_id)]
    assert results[1] == {
        "id": str(failed.public_id),
        "event_id": str(event.public_id),
        "event_type": "message.received",
        "attempt": 1,
        "status_code": 500,
        "error": "",
        "duration_ms": 12,
        "created_at": results[1]["created_at"],
        "next_retry_at": retry_at.isoformat().replace("+00:00", "Z"),
    }
    assert results[0]["next_retry_at"] is None


def test_deliveries_list_queries_do_not_grow_with_rows(charlie_api: Client, charlie: Persona) -> None:
    # given
    with schema_context(charlie.company.schema_name):
        subscription = WebhookSubscriptionFactory()
        WebhookDeliveryFactory(event__subscription=subscription)
    path = f"/api/v1/webhooks/{subscription.public_id}/deliveries/"
    charlie_api.get(path)  # the key's first use is recorded once
    with CaptureQueriesContext(connection) as few:
        charlie_api.get(path)
    with schema_context(charlie.company.schema_name):
        WebhookDeliveryFactory.create_batch(5, event__subscription=subscription)
    # when
    with CaptureQueriesContext(connection) as many:
        charlie_api.get(path)
    # then
    assert len(many) == len(few)


def test_charlie_gets_404_for_acmes_deliveries(charlie_api: Client, acme_delivery: WebhookDelivery) -> None:
    # when
    response = charlie_api.get(f"/api/v1/webhooks/{acme_delivery.event.subscription.public_id}/deliveries/")
    # then
    assert response.status_code == 404


def test_replay_answers_202_with_the_queued_attempt(
    charlie_api: Client, charlie: Persona, django_capture_on_commit_callbacks: Capture
) -> None:
    # given a delivered event
    with schema_context(charlie.company.schema_name):
        delivery = WebhookDeliveryFactory()
    subscription = delivery.event.subscription
    # when
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = _post(
            charlie_api, f"/api/v1/webhooks/{subscription.public_id}/deliveries/{delivery.public_id}/replay/"
        )
    # then
    assert response.status_code == 202
    body = response.json()
    assert (body["event_id"], body["attempt"], body["status_code"]) == (str(delivery.event.public_id), 2, None)
    with schema_context(charlie.company.schema_name):
        replay = WebhookDelivery.objects.get(public_id=body["id"])
    assert tasks_enqueued(callbacks) == [("inbox.tasks.webhook_delivery_send_task", (replay.pk,))]


def test_replay_of_another_subscriptions_delivery_is_404(charlie_api: Client, charlie: Persona) -> None:
    # given
    with schema_context(charlie.company.schema_name):
        delivery = WebhookDeliveryFactory()
        other = WebhookSubscriptionFactory()
    # when
    response = _post(charlie_api, f"/api/v1/webhooks/{other.public_id}/deliveries/{delivery.public_id}/replay/")
    # then
    assert response.status_code == 404


def test_charlie_gets_404_replaying_acmes_delivery(
    charlie_api: Client, company_a: Company, acme_delivery: WebhookDelivery
) -> None:
    # when
    path = f"/api/v1/webhooks/{acme_delivery.event.subscription.public_id}/deliveries/{acme_delivery.public_id}/replay/"
    response = _post(charlie_api, path)
    # then
    assert response.status_code == 404
    with schema_context(company_a.schema_name):
        assert WebhookDelivery.objects.count() == 1


# --- Idempotency-Key -------------------------------------------------------------------------


def _post_keyed(client: Client, path: str, key: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(path, json.dumps(body or {}), content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


def test_create_with_a_repeated_key_subscribes_once(charlie_api: Client, charlie: Persona) -> None:
    # given
    body = {"url": PUBLIC_URL, "events": ["message.received"]}
    first = _post_keyed(charlie_api, "/api/v1/webhooks/", "create-1", body)
    # when the client retries with the same key
    second = _post_keyed(charlie_api, "/api/v1/webhooks/", "create-1", body)
    # then the first answer again, and one subscription
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    with schema_context(charlie.company.schema_name):
        assert WebhookSubscription.objects.count() == 1


def test_create_with_a_used_key_and_another_body_is_a_mismatch(charlie_api: Client, charlie: Persona) -> None:
    # given
    _post_keyed(charlie_api, "/api/v1/webhooks/", "create-2", {"url": PUBLIC_URL, "events": ["message.received"]})
    # when
    response = _post_keyed(
        charlie_api, "/api/v1/webhooks/", "create-2", {"url": PUBLIC_URL, "events": ["thread.updated"]}
    )
    # then
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "idempotency_mismatch"
    with schema_context(charlie.company.schema_name):
        assert WebhookSubscription.objects.count() == 1


def test_rotate_with_a_repeated_key_rotates_once(charlie_api: Client, charlie: Persona) -> None:
    # given
    with schema_context(charlie.company.schema_name):
        subscription = WebhookSubscriptionFactory()
    old_secret = subscription.secret
    path = f"/api/v1/webhooks/{subscription.public_id}/rotate-secret/"
    first = _post_keyed(charlie_api, path, "rotate-1")
    # when the client retries with the same key
    second = _post_keyed(charlie_api, path, "rotate-1")
    # then the same new secret, and the original one still the previous secret
    assert first.status_code == second.status_code == 200
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    with schema_context(charlie.company.schema_name):
        subscription.refresh_from_db()
    assert subscription.secret == first.json()["secret"]
    assert subscription.previous_secret == old_secret


def test_replay_with_a_repeated_key_sends_once(
    charlie_api: Client, charlie: Persona, django_capture_on_commit_callbacks: Capture
) -> None:
    # given a delivered event
    with schema_context(charlie.company.schema_name):
        delivery = WebhookDeliveryFactory()
    path = f"/api/v1/webhooks/{delivery.event.subscription.public_id}/deliveries/{delivery.public_id}/replay/"
    # when the client posts the replay twice with one key
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        first = _post_keyed(charlie_api, path, "replay-1")
        second = _post_keyed(charlie_api, path, "replay-1")
    # then one new attempt, queued once
    assert first.status_code == second.status_code == 202
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    with schema_context(charlie.company.schema_name):
        assert WebhookDelivery.objects.filter(event=delivery.event).count() == 2
        replay = WebhookDelivery.objects.get(public_id=first.json()["id"])
    assert tasks_enqueued(callbacks) == [("inbox.tasks.webhook_delivery_send_task", (replay.pk,))]
