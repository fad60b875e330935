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
from inbox.providers.sandbox import body_encode, envelope_build, sandbox_waba_id, status_item, text_message_item
from inbox.services import numbers
from tenants import tasks
from tenants.models import Company, ProviderEvent

NUMBER_A = "770000000000001"
NUMBER_B = "770000000000002"
DISPLAY_A = "+493012345601"
DISPLAY_B = "+493012345602"
CUSTOMER = "+4915112345678"

__all__ = ["body_encode", "envelope_build", "sandbox_waba_id", "status_item", "text_message_item"]


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


def preferences_envelope(
    *preferences: dict[str, Any], phone_number_id: str = NUMBER_A, display_number: str = DISPLAY_A
) -> dict[str, Any]:
    """A `user_preferences` webhook body (whatsapp-platform.md §1.5) with these items."""
    wa_ids = {p.get("wa_id") for p in preferences}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": sandbox_waba_id(phone_number_id), "changes": [{"field": "user_preferences", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": display_number.lstrip("+"), "phone_number_id": phone_number_id},
            "contacts": [{"profile": {"name": "Ana"}, "wa_id": w} for w in sorted(wa_ids)],
            "user_preferences": list(preferences)}}]}],
    }  # fmt: skip


def preference_item(value: str, *, wa_id: str = CUSTOMER.lstrip("+"), at: int = 1767261600, **extra: Any) -> dict:
    item: dict[str, Any] = {
        "wa_id": wa_id,
        "detail": f"User requested to {value} marketing messages",
        "category": "marketing_messages",
        "value": value,
        "timestamp": at,
    }
    item.update(extra)
    return item


def template_status_envelope(
    event: str, *, name: str, language: str = "en", waba_id: str = "", reason: str = "NONE", **extra: Any
) -> dict[str, Any]:
    """A `message_template_status_update` body (whatsapp-platform.md §1.5): no metadata."""
    value: dict[str, Any] = {"event": event, "message_template_id": 594425479261596, "message_template_name": name,
                             "message_template_language": language, "message_template_category": "UTILITY",
                             "reason": reason}  # fmt: skip
    value.update(extra)
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id or sandbox_waba_id(NUMBER_A), "time": 1767261600,
                   "changes": [{"field": "message_template_status_update", "value": value}]}],
    }  # fmt: skip


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
