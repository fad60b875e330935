"""`POST /api/v1/broadcasts/` with a canary and a failure threshold, and what the broadcast
object says about its phase and why it paused (docs/broadcasts.md, "Canary and circuit breaker")."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from inbox.models import Broadcast, PhoneNumber, Template
from inbox.services import broadcast_breaker, broadcasts
from inbox.tests.api_helpers import get, post_json
from inbox.tests.factories import TemplateFactory
from inbox.tests.factories_broadcasts import OptedInContactFactory
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]


@pytest.fixture(autouse=True)
def _sandbox(settings: Any) -> None:
    settings.WHATSAPP_API_BASE = ""


@pytest.fixture
def ready_a(tenant_a: Company, connected_number_a: PhoneNumber) -> PhoneNumber:
    TemplateFactory(name="flight_delay", language="en", body="Hello {{1}}, flight {{2}} is delayed.")
    return connected_number_a


def _body(**changes: Any) -> dict[str, Any]:
    return {
        "name": "LH 123 delayed",
        "template": {"name": "flight_delay", "language": "en"},
        "parameters": ["traveller", "LH 123"],
        "audience": {"type": "all"},
        **changes,
    }


def test_creates_a_broadcast_with_a_canary_and_a_threshold(ready_a: PhoneNumber, api_a: Client, in_a: InA) -> None:
    # when
    response = post_json(
        api_a, "/api/v1/broadcasts/", _body(canary={"percent": 1, "hold_seconds": 300}, failure_threshold=0.1)
    )
    # then
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["canary"] == {"percent": 1.0, "hold_seconds": 300, "size": None}
    assert (body["failure_threshold"], body["phase"], body["phase_detail"], body["paused_code"]) == (0.1, "", "", "")
    with in_a():
        stored = Broadcast.objects.get(public_id=body["id"])
    assert (float(stored.canary_percent), stored.canary_hold_seconds, stored.failure_threshold) == (1.0, 300, 0.1)


def test_without_a_canary_the_fields_are_empty(ready_a: PhoneNumber, api_a: Client) -> None:
    body = post_json(api_a, "/api/v1/broadcasts/", _body()).json()
    assert (body["canary"], body["failure_threshold"]) == (None, None)


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"canary": {"count": 5, "percent": 1}}, "canary", "either a count or a percent"),
        ({"canary": {}}, "canary", "either a count or a percent"),
        ({"canary": {"count": 0}}, "canary.count", ""),
        ({"canary": {"percent": 150}}, "canary", "above 0 and below 100"),
        ({"canary": {"count": 2, "hold_seconds": -5}}, "canary.hold_seconds", ""),
        ({"canary": "ten"}, "canary.non_field_errors", ""),
        ({"failure_threshold": 0}, "failure_threshold", "fraction above 0 and at most 1"),
        ({"failure_threshold": 2}, "failure_threshold", "fraction above 0 and at most 1"),
        ({"failure_threshold": "lots"}, "failure_threshold", ""),
    ],
)
def test_a_bad_canary_or_threshold_is_invalid_and_nothing_is_stored(
    ready_a: PhoneNumber, api_a: Client, in_a: InA, changes: dict[str, Any], field: str, fragment: str
) -> None:
    # when
    response = post_json(api_a, "/api/v1/broadcasts/", _body(**changes))
    # then
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["details"]) == [field]
    assert fragment in str(error["details"][field])
    with in_a():
        assert not Broadcast.objects.exists()


def test_the_broadcast_object_shows_the_canary_hold_and_then_why_it_paused(
    ready_a: PhoneNumber, api_a: Client, in_a: InA, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a started broadcast whose canary of 2 was sent
    with in_a():
        OptedInContactFactory.create_batch(6)
    created = post_json(api_a, "/api/v1/broadcasts/", _body(canary={"count": 2, "hold_seconds": 120})).json()
    path = f"/api/v1/broadcasts/{created['id']}/"
    with django_capture_on_commit_callbacks(execute=False):
        assert post_json(api_a, f"{path}start/").status_code == 202
    with in_a():
        broadcast = Broadcast.objects.get(public_id=created["id"])
        broadcasts.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=broadcast.first_delivery_id,
                                        hi=broadcast.last_delivery_id + 1)  # fmt: skip
    # when / then: holding
    body = get(api_a, path).json()
    assert (body["status"], body["phase"]) == ("running", "canary_hold")
    assert body["phase_detail"] in {f"canary: waiting {s} s for statuses" for s in (119, 120)}
    assert body["canary"] == {"count": 2, "hold_seconds": 120, "size": 2}
    # when: the template is paused by the provider meanwhile, then the hold passes
    with in_a():
        template = Template.objects.get(name="flight_delay")
        broadcast_breaker.broadcasts_pause_for_template(template=template, event="PAUSED")
        broadcasts.broadcast_sweep(now=timezone.now() + timedelta(seconds=121))
    # then: paused, with a reason for people and a code for programs
    body = get(api_a, path).json()
    assert (body["status"], body["paused_code"]) == ("paused", "template_paused")
    assert "flight_delay (en) was paused by the provider" in body["paused_reason"]
    assert body["counts"]["queued"] == 4


def test_resume_is_a_conflict_while_the_template_is_paused(
    ready_a: PhoneNumber, api_a: Client, in_a: InA, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a running broadcast paused because the provider paused its template
    with in_a():
        OptedInContactFactory.create_batch(3)
    created = post_json(api_a, "/api/v1/broadcasts/", _body()).json()
    path = f"/api/v1/broadcasts/{created['id']}/"
    with django_capture_on_commit_callbacks(execute=False):
        post_json(api_a, f"{path}start/")
    with in_a():
        template = Template.objects.get(name="flight_delay")
        Template.objects.filter(pk=template.pk).update(status=Template.Status.PAUSED)
        broadcast_breaker.broadcasts_pause_for_template(template=template, event="PAUSED")
    # when
    response = post_json(api_a, f"{path}resume/")
    # then
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert "flight_delay" in response.json()["error"]["message"]
    assert get(api_a, path).json()["status"] == "paused"
