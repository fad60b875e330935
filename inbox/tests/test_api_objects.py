"""The OpenAPI components of inbox/api/objects.py describe exactly what inbox.representations
builds (the bodies of the API and of outgoing webhooks), and the API routes are documented."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.urls import URLPattern, get_resolver
from drf_spectacular.generators import SchemaGenerator

from accounts.models import User
from inbox import representations
from inbox.models import ConsentEvent
from inbox.services import contacts, threads
from inbox.tests.factories import ContactFactory, MessageFactory, PhoneNumberFactory, TemplateFactory, ThreadFactory
from tenants.models import Company


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)  # type: ignore[no-any-return]


def _consent_event() -> ConsentEvent:
    return contacts.consent_record(contact=ContactFactory(), action="opt_in", source="api")


def _note() -> Any:
    return threads.note_create(thread=ThreadFactory(), author=User.objects.first(), body="hi")  # type: ignore[arg-type]


BUILDERS: list[tuple[str, Callable[[], Any], Callable[[Any], dict[str, Any]]]] = [
    ("Contact", ContactFactory, representations.contact_data),
    ("Thread", ThreadFactory, representations.thread_data),
    ("Message", MessageFactory, representations.message_data),
    ("PhoneNumber", PhoneNumberFactory, representations.phone_number_data),
    ("Template", TemplateFactory, representations.template_data),
    ("ConsentEvent", _consent_event, representations.consent_event_data),
    ("Note", _note, representations.note_data),
]


@pytest.mark.parametrize(("component", "make", "build"), BUILDERS, ids=[b[0] for b in BUILDERS])
def test_component_lists_the_representations_fields(
    tenant_a: Company,
    schema: dict[str, Any],
    component: str,
    make: Callable[[], Any],
    build: Callable[[Any], dict[str, Any]],
) -> None:
    # given
    data = build(make())
    # when
    documented = schema["components"]["schemas"][component]["properties"]
    # then
    assert set(documented) == set(data)


def test_every_post_documents_the_idempotency_key(schema: dict[str, Any]) -> None:
    # given the API's own POSTs (webhook subscriptions are documented by their module)
    posts = {
        path: operation["post"]
        for path, operation in schema["paths"].items()
        if "post" in operation and not path.startswith("/api/v1/webhooks/")
    }
    # then
    # + broadcasts (create, dry run, start, pause, resume, cancel), uploads, cancel a scheduled message,
    # erase a contact, merge contacts, merge threads
    assert len(posts) == 19
    for path, operation in posts.items():
        headers = [p["name"] for p in operation.get("parameters", []) if p["in"] == "header"]
        assert headers == ["Idempotency-Key"], path
        assert "422" in operation["responses"], path


def test_paths_end_with_a_slash_as_the_contract_writes_them() -> None:
    # given
    api = next(p for p in get_resolver("config.urls_tenant").url_patterns if str(p.pattern) == "api/v1/")
    # then
    routes = [str(p.pattern) for p in api.url_patterns if isinstance(p, URLPattern)]  # type: ignore[attr-defined]
    assert all(route.endswith("/") for route in routes if route not in ("me", "usage"))


def test_thread_rows_build_the_same_object_as_threads(tenant_a: Company) -> None:
    # given threads with and without an assignee, labels, a customer message, a snooze
    from datetime import timedelta

    from django.utils import timezone

    from inbox import selectors

    agent = User.objects.filter(is_active=True).first()
    bare = ThreadFactory(contact=ContactFactory(name="", profile_name="Profile Only"))
    now = timezone.now()
    busy = ThreadFactory(assignee=agent, last_inbound_at=now, snoozed_until=now + timedelta(hours=1))
    threads.thread_update(thread=busy, labels=["vip", "Billing", "amber"])
    # when
    rows = {row["id"]: row for row in selectors.thread_row_list_api() if row["id"] in (bare.pk, busy.pk)}
    # then
    for thread in (bare, busy):
        expected = representations.thread_data(selectors.thread_get(public_id=thread.public_id))
        assert representations.thread_row_data(rows[thread.pk]) == expected


def test_message_rows_build_the_same_object_as_messages(tenant_a: Company) -> None:
    # given one thread's text, template, media and failed messages, one sent by an agent
    from django.core.files.base import ContentFile

    from inbox import selectors
    from inbox.models import Message

    agent = User.objects.filter(is_active=True).first()
    thread = ThreadFactory()
    made = [
        MessageFactory(thread=thread),
        MessageFactory(
            thread=thread,
            direction=Message.Direction.OUTBOUND,
            type=Message.Type.TEMPLATE,
            status=Message.Status.READ,
            sent_by=agent,
            template_name="order_shipped",
            template_language="en",
            template_parameters=["Ann", "A-17"],
            template_category="utility",
        ),
        MessageFactory(
            thread=thread,
            type=Message.Type.IMAGE,
            text="the receipt",
            media_id="media-1",
            media_mime_type="image/jpeg",
            media_filename="receipt.jpg",
            media_status="ready",
            media_file=ContentFile(b"\xff\xd8\xff", name="receipt.jpg"),
        ),
        MessageFactory(
            thread=thread,
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.FAILED,
            error_code=131026,
            error_title="Message undeliverable",
            error_detail="The number is not on WhatsApp.",
        ),
    ]
    # when
    rows = {row["id"]: row for row in selectors.message_row_list_for_thread(thread_id=thread.pk)}
    # then
    assert len(rows) == len(made)
    for message in made:
        expected = representations.message_data(selectors.message_get(public_id=message.public_id))
        assert representations.message_row_data(rows[message.pk]) == expected
