"""Broadcast canary: the first N recipients, a hold for their statuses, then a verdict.

In one process with the sandbox bulk sender (no HTTP); chunk tasks are run by hand from
what dispatch hands out, and the sweeper is called with a clock moved past the hold, as
beat would call it later.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from inbox import broadcast_selectors as selectors
from inbox.models import Broadcast, Delivery, Message
from inbox.services import broadcasts, messages
from inbox.tests.factories import PhoneNumberFactory, TemplateFactory
from inbox.tests.factories_broadcasts import OptedInContactFactory
from tenants.inbound import StatusUpdate


@pytest.fixture(autouse=True)
def _fast_limits(settings: Any) -> None:
    settings.WHATSAPP_API_BASE = ""
    settings.BROADCAST_NUMBER_RATE = 100_000
    settings.BROADCAST_CHUNK_SIZE = 10
    settings.BROADCAST_WINDOW = 2


def dispatch_and_run(broadcast: Broadcast, django_capture_on_commit_callbacks: Any) -> list[tuple[int, int]]:
    """Dispatches everything dispatch will hand out now and runs those chunks; returns the ranges."""
    ranges: list[tuple[int, int]] = []
    while True:
        with django_capture_on_commit_callbacks(execute=False) as enqueued:
            handed = broadcasts.broadcast_dispatch(broadcast_id=broadcast.pk, chunks=1)
        if not handed:
            break
        assert len(enqueued) == 1
        broadcast.refresh_from_db()
        lo = ranges[-1][1] if ranges else broadcast.first_delivery_id
        hi = broadcast.dispatch_cursor
        ranges.append((lo, hi))
        broadcasts.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=lo, hi=hi)
    broadcast.refresh_from_db()
    return ranges


def _canary_broadcast(recipients: int, **canary: Any) -> Broadcast:
    OptedInContactFactory.create_batch(recipients)
    broadcast = broadcasts.broadcast_create(
        name="Delay notice",
        template=TemplateFactory(),
        phone_number=PhoneNumberFactory(),
        template_parameters=["Ada", "A-1"],
        audience={"type": "all"},
        canary=canary,
    )
    return broadcasts.broadcast_start(broadcast=broadcast)


def _fail(message: Message, code: int = 131026) -> None:
    messages.message_status_apply(
        item=StatusUpdate(
            phone_number_id=message.thread.phone_number.phone_number_id,
            wamid=message.wamid,
            status="failed",
            timestamp=timezone.now(),
            error_code=code,
            error_title="Message undeliverable",
        )
    )


def test_canary_sends_the_first_n_holds_then_sends_the_rest(
    tenant_a: object, django_capture_on_commit_callbacks: Any
) -> None:
    # given: 30 recipients, a canary of 5 holding 60 s
    broadcast = _canary_broadcast(30, count=5, hold_seconds=60)
    assert (broadcast.phase, broadcast.canary_end_id) == ("canary", broadcast.first_delivery_id + 5)
    # when: everything dispatch hands out is sent
    ranges = dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    # then: only the canary went out, and the broadcast holds (still running)
    assert ranges == [(broadcast.first_delivery_id, broadcast.first_delivery_id + 5)]
    counts = selectors.broadcast_counts(broadcast=broadcast)
    assert (counts["sent"], counts["queued"]) == (5, 25)
    assert (broadcast.status, broadcast.phase) == (Broadcast.Status.RUNNING, Broadcast.Phase.CANARY_HOLD)
    assert selectors.broadcast_phase_text(broadcast) in (f"canary: waiting {s} s for statuses" for s in (59, 60))
    # when: the sweeper runs before the hold has passed
    with django_capture_on_commit_callbacks(execute=False) as early:
        stats = broadcasts.broadcast_sweep()
    # then: nothing moves
    assert stats["canary"] == 0
    assert early == []
    assert Broadcast.objects.get(pk=broadcast.pk).phase == Broadcast.Phase.CANARY_HOLD
    # when: it runs after the hold
    with django_capture_on_commit_callbacks(execute=False) as late:
        stats = broadcasts.broadcast_sweep(now=timezone.now() + timedelta(seconds=61))
    # then: the canary passed and the rest is dispatched
    assert stats["canary"] == 1
    assert len(late) == 1  # the dispatch task
    broadcast.refresh_from_db()
    assert (broadcast.phase, broadcast.breaker_from_id) == ("", broadcast.canary_end_id)
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    assert broadcast.status == Broadcast.Status.COMPLETED
    assert selectors.broadcast_counts(broadcast=broadcast)["sent"] == 30


def test_a_canary_with_late_failures_pauses_with_the_numbers_and_resume_goes_on(
    tenant_a: object, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a canary of 4 sent, then two of its messages reported failed by webhook
    broadcast = _canary_broadcast(20, count=4, hold_seconds=30)
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    canary_messages = Message.objects.filter(template_name=broadcast.template.name).order_by("id")
    assert canary_messages.count() == 4
    for message in canary_messages[:2]:
        _fail(message)
    # when: the hold has passed
    broadcasts.broadcast_sweep(now=timezone.now() + timedelta(seconds=31))
    # then: paused, with why, and nobody else sent
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.PAUSED
    assert broadcast.paused_code == Broadcast.PausedCode.CANARY
    assert "2 of 4 messages failed (50 %, threshold 20 %)" in broadcast.paused_reason
    assert "131026" in broadcast.paused_reason
    assert "16" in broadcast.paused_reason  # the recipients still waiting
    assert selectors.broadcast_counts(broadcast=broadcast)["queued"] == 16
    # when: a person resumes
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        broadcasts.broadcast_resume(broadcast=broadcast)
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    # then
    assert len(enqueued) == 1
    assert broadcast.status == Broadcast.Status.COMPLETED
    assert (broadcast.paused_code, broadcast.paused_reason) == ("", "")
    counts = selectors.broadcast_counts(broadcast=broadcast)
    assert (counts["sent"], counts["failed"]) == (18, 2)


def test_a_canary_below_the_broadcasts_own_threshold_passes(
    tenant_a: object, django_capture_on_commit_callbacks: Any
) -> None:
    # given: half the canary failed, and this broadcast tolerates 60 %
    OptedInContactFactory.create_batch(12)
    broadcast = broadcasts.broadcast_start(
        broadcast=broadcasts.broadcast_create(
            name="Tolerant", template=TemplateFactory(), phone_number=PhoneNumberFactory(),
            template_parameters=["Ada", "A-1"], audience={"type": "all"},
            canary={"count": 2, "hold_seconds": 0}, failure_threshold=0.6,
        )
    )  # fmt: skip
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    _fail(Message.objects.filter(template_name=broadcast.template.name).first())
    # when
    with django_capture_on_commit_callbacks(execute=False):
        broadcasts.broadcast_sweep()
    # then
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.phase) == (Broadcast.Status.RUNNING, "")


def test_one_percent_of_a_small_audience_is_one_recipient(tenant_a: object) -> None:
    # when
    broadcast = _canary_broadcast(30, percent=1)
    # then
    assert broadcast.canary_percent == Decimal("1.00")
    assert broadcast.canary_hold_seconds == 600  # the default hold
    assert Delivery.objects.filter(broadcast=broadcast, id__lt=broadcast.canary_end_id).count() == 1
    assert selectors.broadcast_phase_text(broadcast) == "canary: sending to the first 1 recipient"


def test_a_canary_as_large_as_the_audience_is_no_canary(tenant_a: object) -> None:
    broadcast = _canary_broadcast(3, count=5)
    assert (broadcast.phase, broadcast.canary_end_id) == ("", None)


def test_nothing_past_the_canary_is_sent_by_a_stray_or_redelivered_chunk(
    tenant_a: object, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a canary of 3 dispatched; a chunk task for a later range arrives anyway
    broadcast = _canary_broadcast(25, count=3, hold_seconds=60)
    end = broadcast.canary_end_id
    # when
    report = broadcasts.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=broadcast.first_delivery_id, hi=end + 10)
    stray = broadcasts.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=end, hi=end + 10)
    # then: only the canary's rows were claimed
    assert (report.sent, stray.claimed) == (3, 0)
    assert Delivery.objects.filter(broadcast=broadcast, status=Delivery.Status.SENT, id__gte=end).count() == 0


def test_the_sweeper_starts_the_hold_when_the_chunk_that_finished_the_canary_died(tenant_a: object) -> None:
    # given: the canary's rows were recorded but the run died before it moved the phase on
    broadcast = _canary_broadcast(10, count=2, hold_seconds=5)
    Delivery.objects.filter(broadcast=broadcast, id__lt=broadcast.canary_end_id).update(status=Delivery.Status.SENT)
    # when
    broadcasts.broadcast_sweep()
    # then
    broadcast.refresh_from_db()
    assert broadcast.phase == Broadcast.Phase.CANARY_HOLD
    assert broadcast.phase_until > timezone.now()


def test_a_quiet_broadcast_holding_after_its_canary_is_left_alone(
    tenant_a: object, django_capture_on_commit_callbacks: Any
) -> None:
    # given: holding for an hour, no progress for longer than the quiet limit
    broadcast = _canary_broadcast(10, count=2, hold_seconds=3600)
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    # when
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        stats = broadcasts.broadcast_sweep(now=timezone.now() + timedelta(minutes=10))
    # then: no re-dispatch and still holding
    assert (stats["redispatched"], enqueued) == (0, [])
    assert Broadcast.objects.get(pk=broadcast.pk).phase == Broadcast.Phase.CANARY_HOLD


@pytest.mark.parametrize(
    ("canary", "message"),
    [
        ("5", "is {"),
        ({}, "either a count or a percent"),
        ({"count": 5, "percent": 1}, "either a count or a percent"),
        ({"count": 0}, "at least 1"),
        ({"count": True}, "at least 1"),
        ({"count": 2.5}, "at least 1"),
        ({"percent": 0}, "above 0 and below 100"),
        ({"percent": 100}, "above 0 and below 100"),
        ({"percent": "many"}, "above 0 and below 100"),
        ({"percent": 0.001}, "at most two decimals"),
        ({"count": 3, "hold_seconds": -1}, "hold_seconds"),
        ({"count": 3, "hold_seconds": 90_000}, "hold_seconds"),
        ({"count": 3, "hold_seconds": "60"}, "hold_seconds"),
        ({"count": 3, "wait": 60}, "Unknown canary field(s): wait"),
    ],
)
def test_a_bad_canary_is_refused_with_a_clear_message(tenant_a: object, canary: Any, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        broadcasts.broadcast_create(
            name="x", template=TemplateFactory(), phone_number=PhoneNumberFactory(), audience={"type": "all"},
            canary=canary,
        )  # fmt: skip
    assert message in error.value.message_dict["canary"][0]
    assert not Broadcast.objects.exists()


@pytest.mark.parametrize("threshold", [0, -0.1, 1.5, "0.2", True, float("nan")])
def test_a_bad_failure_threshold_is_refused(tenant_a: object, threshold: Any) -> None:
    with pytest.raises(ValidationError) as error:
        broadcasts.broadcast_create(
            name="x", template=TemplateFactory(), phone_number=PhoneNumberFactory(), audience={"type": "all"},
            failure_threshold=threshold,
        )  # fmt: skip
    assert "fraction above 0 and at most 1" in error.value.message_dict["failure_threshold"][0]


def test_a_good_canary_and_threshold_are_stored(tenant_a: object) -> None:
    broadcast = broadcasts.broadcast_create(
        name="x", template=TemplateFactory(), phone_number=PhoneNumberFactory(), audience={"type": "all"},
        canary={"percent": 2.5, "hold_seconds": 0}, failure_threshold=0.05,
    )  # fmt: skip
    broadcast.refresh_from_db()
    assert (broadcast.canary_count, broadcast.canary_percent, broadcast.canary_hold_seconds) == (
        None,
        Decimal("2.50"),
        0,
    )
    assert broadcast.failure_threshold == 0.05


def test_cancel_during_the_hold_ends_the_canary_too(tenant_a: object, django_capture_on_commit_callbacks: Any) -> None:
    # given
    broadcast = _canary_broadcast(10, count=2, hold_seconds=60)
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    # when
    broadcast = broadcasts.broadcast_cancel(broadcast=broadcast)
    stats = broadcasts.broadcast_sweep(now=timezone.now() + timedelta(seconds=61))
    # then: nothing left to judge or send
    assert (broadcast.status, broadcast.phase, stats["canary"]) == (Broadcast.Status.CANCELLED, "", 0)
    counts = selectors.broadcast_counts(broadcast=broadcast)
    assert (counts["sent"], counts["skipped"]) == (2, 8)
