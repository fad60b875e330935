"""The composer's safety section (canary, failure threshold) and what the detail page says
about a canary hold or a pause by the circuit breaker."""

from __future__ import annotations

from decimal import Decimal

from django.test import Client
from django_tenants.utils import schema_context

from conftest import Persona
from inbox import forms_broadcasts
from inbox.models import Broadcast
from inbox.services import broadcast_breaker
from inbox.services import broadcasts as services
from inbox.tests.test_views_broadcasts import NEW, Setup, _compose, _running
from inbox.tests.test_views_broadcasts import acme as acme  # the fixture


def test_compose_with_a_canary_and_a_threshold_saves_them(bob: Persona, bob_client: Client, acme: Setup) -> None:
    # when
    response = bob_client.post(
        NEW,
        _compose(acme, canary="count", canary_count="1", canary_hold_minutes="5", failure_threshold="10"),
    )
    # then
    assert response.status_code == 302
    with schema_context(bob.company.schema_name):
        broadcast = Broadcast.objects.get(name="Delay LH123")
    assert (broadcast.canary_count, broadcast.canary_percent, broadcast.canary_hold_seconds) == (1, None, 300)
    assert broadcast.failure_threshold == 0.1


def test_compose_with_a_share_as_canary(bob: Persona, bob_client: Client, acme: Setup) -> None:
    response = bob_client.post(NEW, _compose(acme, canary="percent", canary_percent="2.5", canary_hold_minutes="0"))
    assert response.status_code == 302
    with schema_context(bob.company.schema_name):
        broadcast = Broadcast.objects.get(name="Delay LH123")
    assert (broadcast.canary_percent, broadcast.canary_hold_seconds, broadcast.failure_threshold) == (
        Decimal("2.50"),
        0,
        None,
    )


def test_without_a_canary_nothing_is_set(bob: Persona, bob_client: Client, acme: Setup) -> None:
    assert bob_client.post(NEW, _compose(acme)).status_code == 302
    with schema_context(bob.company.schema_name):
        broadcast = Broadcast.objects.get(name="Delay LH123")
    assert (broadcast.canary_count, broadcast.canary_percent, broadcast.failure_threshold) == (None, None, None)


def test_a_canary_without_its_size_is_a_readable_error_and_keeps_the_values(
    bob: Persona, bob_client: Client, acme: Setup
) -> None:
    # when
    response = bob_client.post(NEW, _compose(acme, canary="count", canary_hold_minutes="7", failure_threshold="500"))
    # then
    html = response.content.decode()
    assert response.status_code == 400
    assert str(forms_broadcasts.CANARY_COUNT_REQUIRED) in html
    assert "Ensure this value is less than or equal to 100" in html
    assert 'value="7"' in html
    with schema_context(bob.company.schema_name):
        assert not Broadcast.objects.exists()


def test_the_detail_page_says_when_the_canary_holds(bob_client: Client, alice: Persona, acme: Setup) -> None:
    # given: a running broadcast to two, canary of one, sent and holding
    broadcast = _running(alice, acme, canary={"count": 1, "hold_seconds": 600})
    with schema_context(alice.company.schema_name):
        services.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=broadcast.first_delivery_id,
                                      hi=broadcast.last_delivery_id + 1)  # fmt: skip
        assert Broadcast.objects.get(pk=broadcast.pk).phase == Broadcast.Phase.CANARY_HOLD
    # when
    html = bob_client.get(f"/broadcasts/{broadcast.public_id}/").content.decode()
    # then
    assert "Canary: waiting 600 s for statuses" in html or "Canary: waiting 599 s for statuses" in html


def test_the_detail_page_says_the_breaker_paused_it(bob_client: Client, alice: Persona, acme: Setup) -> None:
    broadcast = _running(alice, acme)
    with schema_context(alice.company.schema_name):
        broadcast_breaker.trip(
            broadcast_id=broadcast.pk,
            code=Broadcast.PausedCode.FAILURE_RATE,
            reason="Paused by the circuit breaker: 9 of the last 20 messages failed (45 %, threshold 20 %) <b>",
        )
    html = bob_client.get(f"/broadcasts/{broadcast.public_id}/").content.decode()
    assert "Paused by itself: failure rate above the threshold." in html
    assert "9 of the last 20 messages failed (45 %, threshold 20 %) &lt;b&gt;" in html


def test_a_copy_keeps_the_canary_and_the_threshold(bob_client: Client, alice: Persona, acme: Setup) -> None:
    # given
    broadcast = _running(alice, acme, canary={"percent": 5, "hold_seconds": 900}, failure_threshold=0.15)
    # when
    html = bob_client.get(f"{NEW}?copy={broadcast.public_id}").content.decode()
    # then
    assert 'value="percent" id="id_canary_2" checked' in html
    assert 'name="canary_percent" value="5.00"' in html
    assert 'name="canary_hold_minutes" value="15"' in html
    assert 'name="failure_threshold" value="15.0"' in html
