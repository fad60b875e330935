"""A receiver verifies our signature with nothing but what the API showed it (chatwoot #13809)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.services import IssuedApiKey
from conftest import Persona
from inbox.services import events
from inbox.tests.webhook_receiver import Receiver, tasks_run

ApiClient = Callable[..., Client]
Capture = Callable[..., Any]
SettingsWrapper = Any  # pytest-django's `settings` fixture


@pytest.fixture
def receiver(settings: SettingsWrapper) -> Iterator[Receiver]:
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = True
    with Receiver().running() as running:
        yield running


@pytest.mark.parametrize(
    "text",
    ["Plain ASCII, please.", 'Grüße aus Köln, ça va? 你好 👋 "quoted" \\ back\nslash'],
    ids=["ascii", "unicode"],
)
def test_receiver_verifies_with_the_secret_the_api_returned(
    api_client: ApiClient,
    charlie: Persona,
    charlie_key: IssuedApiKey,
    receiver: Receiver,
    django_capture_on_commit_callbacks: Capture,
    text: str,
) -> None:
    # given charlie subscribed over the API and kept the secret it showed once
    created = api_client(charlie, charlie_key).post(
        "/api/v1/webhooks/",
        json.dumps({"url": receiver.url, "events": ["message.received"]}),
        content_type="application/json",
    )
    secret = created.json()["secret"]
    # when a message arrives and the delivery runs
    with schema_context(charlie.company.schema_name):
        with django_capture_on_commit_callbacks() as callbacks:
            events.event_publish(event_type="message.received", data={"id": "m-1", "text": text})
        tasks_run(callbacks)
    # then recomputing HMAC-SHA256 over "<t>.<raw body>" gives the header's v1
    [got] = receiver.received
    fields = dict(part.split("=", 1) for part in got.header("Kontakt-Signature").split(","))
    expected = hmac.new(secret.encode(), f"{fields['t']}.".encode() + got.body, hashlib.sha256).hexdigest()
    assert fields["v1"] == expected
    assert json.loads(got.body.decode("utf-8"))["data"]["text"] == text
