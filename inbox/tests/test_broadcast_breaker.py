"""Broadcast circuit breaker: a broadcast that goes wrong pauses itself, says why, resumes in one call.

In one process: a scripted bulk sender (the real asyncio loop and Redis limits, answers
chosen per recipient) stands in for the provider; chunks are dispatched and run by hand.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import redis
from django.utils import timezone

from inbox import broadcast_selectors as selectors
from inbox.errors import TemplateNotApprovedError
from inbox.models import Broadcast, Contact, Delivery, Message, Template
from inbox.providers import bulk
from inbox.services import broadcast_breaker, broadcasts, messages, templates
from inbox.tests.factories import PhoneNumberFactory, TemplateFactory
from inbox.tests.factories_broadcasts import OptedInContactFactory
from inbox.tests.test_broadcast_canary import dispatch_and_run
from tenants.inbound import StatusUpdate, TemplateStatus

Answer = Callable[[int], bulk.BulkResult]


class ScriptedSender(bulk.BulkSender):
    """Answers each send by the recipient's position in the audience (0, 1, 2 … by contact id)."""

    def __init__(self) -> None:
        super().__init__()
        self.script: Callable[[int, int], bulk.BulkResult] = lambda position, did: bulk.BulkResult(
            did, bulk.SENT, wamid=f"wamid.T{did}"
        )
        self.positions: dict[str, int] = {}

    async def _send(self, job: bulk.BulkJob, item: bulk.BulkItem) -> bulk.BulkResult:
        return self.script(self.positions[item.to], item.delivery_id)


def failed(code: int, title: str = "Refused") -> Callable[[int], bulk.BulkResult]:
    return lambda did: bulk.BulkResult(did, bulk.FAILED, code=code, title=title)


def sent(did: int) -> bulk.BulkResult:
    return bulk.BulkResult(did, bulk.SENT, wamid=f"wamid.T{did}")


@pytest.fixture(autouse=True)
def _breaker_settings(settings: Any) -> None:
    settings.WHATSAPP_API_BASE = ""
    settings.BROADCAST_NUMBER_RATE = 100_000
    settings.BROADCAST_CHUNK_SIZE = 40
    settings.BROADCAST_FLUSH_SIZE = 10
    settings.BROADCAST_BREAKER_SAMPLE = 20
    settings.BROADCAST_BREAKER_MIN_SAMPLE = 10
    settings.BROADCAST_BREAKER_BURST = 5


@pytest.fixture
def sender(monkeypatch: pytest.MonkeyPatch) -> ScriptedSender:
    scripted = ScriptedSender()
    monkeypatch.setattr(bulk, "bulk_sender_get", lambda: scripted)
    return scripted


def _started(sender: ScriptedSender, recipients: int, **create: Any) -> Broadcast:
    people = OptedInContactFactory.create_batch(recipients)
    sender.positions = {c.phone: i for i, c in enumerate(sorted(people, key=lambda c: c.pk))}
    broadcast = broadcasts.broadcast_create(
        name="Spring sale", template=TemplateFactory(), phone_number=PhoneNumberFactory(),
        template_parameters=["Ada", "A-1"], audience={"type": "all"}, **create,
    )  # fmt: skip
    return broadcasts.broadcast_start(broadcast=broadcast)


def test_a_failure_rate_above_the_threshold_pauses_within_one_chunk_and_says_why(
    tenant_a: object, settings: Any, sender: ScriptedSender, django_capture_on_commit_callbacks: Any
) -> None:
    # given: every other recipient is undeliverable, sent slowly enough to stop midway
    settings.BROADCAST_NUMBER_RATE = 20
    sender.script = lambda i, did: failed(131026, "Message undeliverable")(did) if i % 2 else sent(did)
    broadcast = _started(sender, 40)
    # when
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    # then: paused, with the numbers and a code; the unsent rest is queued again, nothing sending
    assert broadcast.status == Broadcast.Status.PAUSED
    assert broadcast.paused_code == Broadcast.PausedCode.FAILURE_RATE
    pattern = r"Paused by the circuit breaker: \d+ of the last \d+ messages failed \(\d+(\.\d)? %, threshold 20 %\)"
    assert re.search(pattern, broadcast.paused_reason)
    assert "most frequent error 131026 (Message undeliverable" in broadcast.paused_reason
    counts = selectors.broadcast_counts(broadcast=broadcast)
    assert counts["sending"] == 0
    assert counts["queued"] >= 20
    assert counts["sent"] + counts["failed"] <= 20


def test_resume_restarts_the_sample_so_old_failures_do_not_trip_it_again(
    tenant_a: object, settings: Any, sender: ScriptedSender, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a broadcast paused by the breaker after 20 finished (half failed)
    settings.BROADCAST_CHUNK_SIZE = 20
    settings.BROADCAST_WINDOW = 1
    sender.script = lambda i, did: failed(131026)(did) if i % 2 and i < 20 else sent(did)
    broadcast = _started(sender, 50)
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    assert broadcast.status == Broadcast.Status.PAUSED
    # when: resumed (the cause was fixed: the rest goes through)
    with django_capture_on_commit_callbacks(execute=False):
        broadcasts.broadcast_resume(broadcast=broadcast)
    broadcast.refresh_from_db()
    assert (broadcast.paused_code, broadcast.breaker_from_id) == ("", broadcast.dispatch_cursor)
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    for lo in range(broadcast.first_delivery_id, broadcast.last_delivery_id + 1, 20):  # rows put back mid-chunk
        broadcasts.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=lo, hi=lo + 20)
    # then: the old failures were not counted again
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.COMPLETED
    assert selectors.broadcast_counts(broadcast=broadcast)["failed"] == 10


def test_a_broadcasts_own_threshold_lets_it_run(
    tenant_a: object, sender: ScriptedSender, django_capture_on_commit_callbacks: Any
) -> None:
    # given: 30 % fail, the broadcast tolerates 50 %
    sender.script = lambda i, did: failed(131026)(did) if i % 10 < 3 else sent(did)
    broadcast = _started(sender, 40, failure_threshold=0.5)
    # when
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    # then
    assert broadcast.status == Broadcast.Status.COMPLETED
    assert selectors.broadcast_counts(broadcast=broadcast)["failed"] == 12


def test_a_burst_of_the_marketing_cap_code_pauses_below_the_failure_rate(
    tenant_a: object, settings: Any, sender: ScriptedSender, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a third of the recipients hit the per-user marketing cap (131049); the rate limit is 50 %
    settings.BROADCAST_CHUNK_SIZE = 10
    sender.script = lambda i, did: failed(131049, "Marketing limit")(did) if i % 3 == 0 else sent(did)
    broadcast = _started(sender, 40, failure_threshold=0.5)
    # when
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    # then: it stopped before the end
    assert broadcast.status == Broadcast.Status.PAUSED
    assert broadcast.paused_code == Broadcast.PausedCode.ERROR_BURST
    assert selectors.broadcast_counts(broadcast=broadcast)["queued"] >= 10
    assert "failed with error 131049 (Marketing limit for this customer)" in broadcast.paused_reason


def test_a_template_paused_code_pauses_and_puts_recipients_back_instead_of_failing_them(
    tenant_a: object, sender: ScriptedSender, django_capture_on_commit_callbacks: Any
) -> None:
    # given: the provider refuses the template as paused (132015)
    sender.script = lambda i, did: failed(132015, "Template paused")(did)
    broadcast = _started(sender, 30)
    # when
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    # then: nobody failed; everybody waits for a resume
    assert broadcast.status == Broadcast.Status.PAUSED
    assert broadcast.paused_code == Broadcast.PausedCode.TEMPLATE
    assert "132015 (Template paused)" in broadcast.paused_reason
    counts = selectors.broadcast_counts(broadcast=broadcast)
    assert (counts["failed"], counts["queued"], counts["sending"]) == (0, 30, 0)


def test_an_account_level_code_pauses_with_the_providers_words(
    tenant_a: object, sender: ScriptedSender, django_capture_on_commit_callbacks: Any
) -> None:
    sender.script = lambda i, did: failed(131031, "Business account locked")(did)
    broadcast = _started(sender, 12)
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    assert (broadcast.status, broadcast.paused_code) == (Broadcast.Status.PAUSED, Broadcast.PausedCode.PROVIDER_STOP)
    assert broadcast.paused_reason == "Provider error 131031: Business account locked"


def test_rate_limit_refusals_that_last_pause_and_a_short_storm_does_not(
    tenant_a: object, settings: Any, sender: ScriptedSender, django_capture_on_commit_callbacks: Any
) -> None:
    # given: the provider answers 130429 to everything
    sender.script = lambda i, did: bulk.BulkResult(did, bulk.RETRY, code=130429, title="Throughput limit")
    broadcast = _started(sender, 20)
    # when: the first refusals come back (the storm has not lasted yet)
    dispatch_and_run(broadcast, django_capture_on_commit_callbacks)
    # then: still running, retries queued, the clock started
    assert broadcast.status == Broadcast.Status.RUNNING
    assert broadcast.throttled_since is not None
    # when: the storm is older than the limit and refusals keep coming
    Broadcast.objects.filter(pk=broadcast.pk).update(throttled_since=timezone.now() - timedelta(seconds=121))
    Delivery.objects.filter(broadcast=broadcast).update(next_attempt_at=None)
    client = redis.from_url(settings.REDIS_URL)  # the pair limit would hold the second try back
    client.delete(*client.keys("kontakt:throttle:pair:*"))
    broadcasts.broadcast_chunk_send(
        broadcast_id=broadcast.pk, lo=broadcast.first_delivery_id, hi=broadcast.last_delivery_id + 1
    )
    # then
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.paused_code) == (Broadcast.Status.PAUSED, Broadcast.PausedCode.THROTTLED)
    assert "for 120 s the provider refused every send" in broadcast.paused_reason
    assert selectors.broadcast_counts(broadcast=broadcast)["failed"] == 0


def test_a_success_clears_the_rate_limit_clock(tenant_a: object, sender: ScriptedSender) -> None:
    broadcast = _started(sender, 1)
    now = timezone.now()
    assert not broadcast_breaker.throttle_track(broadcast_id=broadcast.pk, sent=0, throttled=3, now=now, since=None)
    assert Broadcast.objects.get(pk=broadcast.pk).throttled_since == now
    assert not broadcast_breaker.throttle_track(
        broadcast_id=broadcast.pk, sent=0, throttled=3, now=now + timedelta(seconds=5), since=now
    )
    assert Broadcast.objects.get(pk=broadcast.pk).throttled_since == now  # the clock keeps its start
    assert not broadcast_breaker.throttle_track(broadcast_id=broadcast.pk, sent=1, throttled=3, now=now, since=now)
    assert Broadcast.objects.get(pk=broadcast.pk).throttled_since is None


def test_late_failed_statuses_trip_the_breaker_through_the_sweeper(
    tenant_a: object, sender: ScriptedSender, django_capture_on_commit_callbacks: Any
) -> None:
    # given: 30 sent and accepted, one chunk of 10 still to go; then 12 are reported failed by webhook
    sender.script = lambda i, did: sent(did)
    broadcast = _started(sender, 40)
    with django_capture_on_commit_callbacks(execute=False):
        broadcasts.broadcast_dispatch(broadcast_id=broadcast.pk, chunks=1)
    broadcasts.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=broadcast.first_delivery_id,
                                    hi=broadcast.first_delivery_id + 30)  # fmt: skip
    for message in Message.objects.filter(template_name=broadcast.template.name).order_by("-id")[:12]:
        messages.message_status_apply(
            item=StatusUpdate(phone_number_id=broadcast.phone_number.phone_number_id, wamid=message.wamid,
                              status="failed", timestamp=timezone.now(), error_code=131049)
        )  # fmt: skip
    # when
    stats = broadcasts.broadcast_sweep()
    # then
    broadcast.refresh_from_db()
    assert stats["tripped"] == 1
    assert (broadcast.status, broadcast.paused_code) == (Broadcast.Status.PAUSED, Broadcast.PausedCode.ERROR_BURST)
    assert "131049" in broadcast.paused_reason


def test_a_healthy_broadcast_is_not_tripped_by_the_sweeper(
    tenant_a: object, sender: ScriptedSender, django_capture_on_commit_callbacks: Any
) -> None:
    broadcast = _started(sender, 30)
    with django_capture_on_commit_callbacks(execute=False):
        broadcasts.broadcast_dispatch(broadcast_id=broadcast.pk, chunks=1)
    broadcasts.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=broadcast.first_delivery_id,
                                    hi=broadcast.first_delivery_id + 20)  # fmt: skip
    assert broadcasts.broadcast_sweep()["tripped"] == 0
    assert Broadcast.objects.get(pk=broadcast.pk).status == Broadcast.Status.RUNNING


def _template_event(template: Template, event: str) -> None:
    templates.template_status_apply(
        item=TemplateStatus(waba_id="1", name=template.name, language=template.language, event=event)
    )


def test_the_template_paused_by_webhook_pauses_its_running_broadcasts_until_approved_again(
    tenant_a: object, sender: ScriptedSender
) -> None:
    # given: two running broadcasts, one with another template
    broadcast = _started(sender, 3)
    other = broadcasts.broadcast_start(
        broadcast=broadcasts.broadcast_create(
            name="Other", template=TemplateFactory(), phone_number=broadcast.phone_number, audience={"type": "all"},
            template_parameters=["Ada", "A-1"],
        )
    )  # fmt: skip
    # when: the provider pauses the template
    _template_event(broadcast.template, "PAUSED")
    # then
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.paused_code) == (Broadcast.Status.PAUSED, Broadcast.PausedCode.TEMPLATE)
    assert f"The template {broadcast.template.name} (en) was paused by the provider" in broadcast.paused_reason
    assert Broadcast.objects.get(pk=other.pk).status == Broadcast.Status.RUNNING
    # when / then: resume is refused while the template is paused, accepted once it is back
    with pytest.raises(TemplateNotApprovedError):
        broadcasts.broadcast_resume(broadcast=broadcast)
    _template_event(broadcast.template, "REINSTATED")
    assert broadcasts.broadcast_resume(broadcast=broadcast).status == Broadcast.Status.RUNNING


def test_a_disabled_template_pauses_its_broadcast_too(tenant_a: object, sender: ScriptedSender) -> None:
    broadcast = _started(sender, 2)
    _template_event(broadcast.template, "DISABLED")
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.paused_code) == (Broadcast.Status.PAUSED, Broadcast.PausedCode.TEMPLATE)
    assert "was disabled by the provider" in broadcast.paused_reason


def test_a_manual_pause_has_its_own_code(tenant_a: object, sender: ScriptedSender) -> None:
    broadcast = broadcasts.broadcast_pause(broadcast=_started(sender, 2), reason="Checking the wording")
    assert (broadcast.paused_code, broadcast.paused_reason) == (Broadcast.PausedCode.MANUAL, "Checking the wording")


def test_the_sample_reads_only_the_newest_finished_rows(tenant_a: object, sender: ScriptedSender) -> None:
    # given: 30 rows: the oldest 10 failed, the newest 20 sent
    broadcast = _started(sender, 30)
    ids = list(Delivery.objects.filter(broadcast=broadcast).order_by("id").values_list("id", flat=True))
    Delivery.objects.filter(pk__in=ids[:10]).update(status=Delivery.Status.FAILED, error_code=131026)
    Delivery.objects.filter(pk__in=ids[10:]).update(status=Delivery.Status.SENT)
    # when
    newest = broadcast_breaker.sample_read(broadcast_id=broadcast.pk, lo=ids[0], hi=ids[-1] + 1, limit=20)
    everything = broadcast_breaker.sample_read(broadcast_id=broadcast.pk, lo=ids[0], hi=ids[-1] + 1, limit=None)
    # then
    assert (newest.finished, newest.failed) == (20, 0)
    assert (everything.finished, everything.failed, everything.codes) == (30, 10, {131026: 10})
    assert Contact.objects.count() == 30
