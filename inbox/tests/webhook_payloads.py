"""Helpers for inbound tests: connected numbers, Cloud API payloads, a signed POST + processing."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

from django.conf import settings
from django.test import Client

from inbox.models import PhoneNumber
from inbox.providers.sandbox import body_encode, envelope_build, status_item, text_message_item
from inbox.services import numbers
from tenants import tasks
from tenants.models import Company, ProviderEvent

NUMBER_A = "770000000000001"
NUMBER_B = "770000000000002"
DISPLAY_A = "+493012345601"
DISPLAY_B = "+493012345602"
CUSTOMER = "+4915112345678"

__all__ = ["body_encode", "envelope_build", "status_item", "text_message_item"]


def connect(company: Company, phone_number_id: str, display_number: str) -> PhoneNumber:
    return numbers.phone_number_connect(
        company=company, phone_number_id=phone_number_id, display_number=display_number, access_token="token-x"
    )


def message_item(kind: str, obj: Any = None, *, sender: str = CUSTOMER, wamid: str = "", **extra: Any) -> dict:
    item: dict[str, Any] = {
        "from": sender.lstrip("+"),
        "id": wamid or f"wamid.IN{time.perf_counter_ns()}",
        "timestamp": str(int(time.time())),
        "type": kind,
    }
    if obj is not None:
        item[kind] = obj
    item.update(extra)
    return item


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(settings.WHATSAPP_APP_SECRET.encode(), body, hashlib.sha256).hexdigest()


def post(client: Client, payload: dict[str, Any] | bytes) -> ProviderEvent:
    """POSTs a signed webhook through the real view; returns the stored event (not processed)."""
    body = payload if isinstance(payload, bytes) else body_encode(payload)
    response = client.post(
        "/webhooks/whatsapp/", data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=sign(body)
    )
    assert response.status_code == 200
    return ProviderEvent.objects.order_by("-id").first()  # type: ignore[return-value]


def process(event: ProviderEvent) -> ProviderEvent:
    """Runs the processing task as the worker would (args JSON round-tripped)."""
    tasks.provider_event_process_task.run(*json.loads(json.dumps([event.pk])))
    event.refresh_from_db()
    return event


def post_and_process(client: Client, payload: dict[str, Any] | bytes) -> ProviderEvent:
    return process(post(client, payload))
