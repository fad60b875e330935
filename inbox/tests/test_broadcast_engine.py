"""Broadcast engine in one process: snapshot, dry run, chunk sending, pause/cancel, sweeper.

Sends go through the sandbox bulk sender (no HTTP) with the Redis limits; the worker
tests (test_broadcast_worker.py) cover real processes, a real HTTP sink and crashes.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from billing.tests.fixtures import plan_limits_lifted  # noqa: F401 - the fixture
from inbox import broadcast_selectors as selectors
from inbox.models import Broadcast, Delivery, Message, Thread
from inbox.services import broadcasts, contacts, messages
from inbox.tests.factories import ContactFactory, LabelFactory, PhoneNumberFactory, TemplateFactory, ThreadFactory
from inbox.tests.factories_broadcasts import BroadcastFactory, MarketingTemplateFactory, OptedInContactFactory
from tenants.inbound import StatusUpdate

# Audiences of up to 120 on alice's unverified free company: plan limits are billing's tests' concern.
pytestmark = pytest.mark.usefixtures("plan_limits_lifted")


@pytest.fixture(autouse=True)
def _fast_limits(settings: Any) -> None:
    settings.WHATSAPP_API_BASE = ""
    settings.BROADCAST_NUMBER_RATE = 100_000
    settings.BROADCAST_CHUNK_SIZE = 50


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _run_all(broadcast: Broadcast) -> None:
    """Sends every chunk of a started broadcast in this process (what the chunk tasks do)."""
    broadcast.refresh_from_db()
    size = broadcasts.conf("BROADCAST_CHUNK_SIZE")
    lo = broadcast.first_delivery_id
    while lo is not None and lo <= broadcast.last_delivery_id:
        broadcasts.broadcast_chunk_send(**_json({"broadcast_id": broadcast.pk, "lo": lo, "hi": lo + size}))
        lo += size
    broadcast.refresh_from_db()


def _chunk_with_status_at_first_flush(broadcast: Broadcast, status: str, size: int) -> None:
    """Sends the broadcast's first chunk; its first flush finds the broadcast in `status`
    (what a pause or cancel arriving mid-chunk looks like to the chunk)."""
    original_flush = broadcasts._flush
    calls = []

    def flush(*args: Any, **kwargs: Any) -> str:
        if not calls:
            Broadcast.objects.filter(pk=broadcast.pk).update(status=status)
        calls.append(1)
        return original_flush(*args, **kwargs)

    broadcasts._flush = flush  # type: ignore[assignment]
    try:
        broadcasts.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=broadcast.first_delivery_id,
                                        hi=broadcast.first_delivery_id + size)  # fmt: skip
    finally:
        broadcasts._flush = original_flush  # type: ignore[assignment]


def test_snapshot_takes_opted_in_contacts_once_and_leaves_the_rest_out(tenant_a: object) -> None:
    # given
    eligible = OptedInContactFactory.create_batch(3)
    ContactFactory(opted_in=True, opted_out=True)
    ContactFactory(opted_in=False)
    OptedInContactFactory(phone="+12")  # not a sendable number
    broadcast = BroadcastFactory()
    # when
    broadcast = broadcasts.broadcast_start(broadcast=broadcast)
    # then
    recipients = set(Delivery.objects.filter(broadcast=broadcast).values_list("contact_id", flat=True))
    assert recipients == {c.pk for c in eligible}
    assert broadcast.status == Broadcast.Status.RUNNING
    assert broadcast.total == broadcast.remaining == 3


def test_snapshot_bounds_are_its_own_first_and_last_rows_among_others(tenant_a: object) -> None:
    # given: an earlier broadcast's rows, and ids drawn from the sequence by someone else
    # in between (what a concurrent snapshot does)
    OptedInContactFactory.create_batch(4)
    earlier = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{Delivery._meta.db_table}', 'id'))")
    # when
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    # then: the bounds are exactly this broadcast's rows, past the earlier ones
    ids = sorted(Delivery.objects.filter(broadcast=broadcast).values_list("id", flat=True))
    assert (broadcast.first_delivery_id, broadcast.last_delivery_id) == (ids[0], ids[-1])
    assert broadcast.first_delivery_id > earlier.last_delivery_id
    assert broadcast.total == len(ids) == 4


def test_an_empty_audience_completes_at_once_without_bounds(tenant_a: object) -> None:
    # when: nobody is eligible
    ContactFactory(opted_in=False)
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    # then
    assert broadcast.status == Broadcast.Status.COMPLETED
    assert (broadcast.total, broadcast.first_delivery_id, broadcast.last_delivery_id) == (0, None, None)


def test_marketing_template_leaves_out_marketing_opt_outs(tenant_a: object) -> None:
    # given
    keep = OptedInContactFactory()
    OptedInContactFactory(marketing_opted_out=True)
    broadcast = BroadcastFactory(template=MarketingTemplateFactory())
    # when
    broadcast = broadcasts.broadcast_start(broadcast=broadcast)
    # then
    assert list(Delivery.objects.filter(broadcast=broadcast).values_list("contact_id", flat=True)) == [keep.pk]


def test_dry_run_counts_exclusions_by_reason(tenant_a: object) -> None:
    # given
    OptedInContactFactory.create_batch(4)
    ContactFactory.create_batch(2, opted_in=True, opted_out=True)
    ContactFactory(opted_in=False)
    OptedInContactFactory(marketing_opted_out=True)
    OptedInContactFactory(phone="0301234")
    broadcast = BroadcastFactory(template=MarketingTemplateFactory())
    # when
    result = broadcasts.broadcast_dry_run(broadcast=broadcast)
    # then
    assert result["audience"] == 4
    assert result["excluded"] == {
        "opted_out": 2,
        "not_opted_in": 1,
        "marketing_opted_out": 1,
        "invalid_phone": 1,
        "duplicate": 0,
    }
    assert "placeholder" not in result["cost"]  # priced by billing's rate card (free plan: 0.00)
    assert result["cost"]["by_category"] == {"marketing": {"count": 4, "amount": "0.00"}}
    assert result["estimated_seconds"] == pytest.approx(4 / 100_000, abs=0.1)


def test_label_audience_takes_contacts_with_any_label(tenant_a: object) -> None:
    # given
    vip, fans = LabelFactory(name="vip"), LabelFactory(name="fans")
    a, b = OptedInContactFactory(), OptedInContactFactory()
    a.labels.add(vip, fans)
    b.labels.add(fans)
    OptedInContactFactory()
    broadcast = broadcasts.broadcast_create(
        name="Labels",
        template=TemplateFactory(),
        phone_number=PhoneNumberFactory(),
        audience={"type": "labels", "labels": ["vip", "fans"]},
    )
    # when
    broadcast = broadcasts.broadcast_start(broadcast=broadcast)
    # then
    assert set(Delivery.objects.filter(broadcast=broadcast).values_list("contact_id", flat=True)) == {a.pk, b.pk}


def test_filter_audience_matches_contact_attributes(tenant_a: object) -> None:
    # given
    berlin = OptedInContactFactory(attributes={"city": "Berlin", "tier": "gold"})
    OptedInContactFactory(attributes={"city": "Paris"})
    broadcast = BroadcastFactory(audience={"type": "filter", "filter": {"city": "Berlin"}})
    # when
    broadcast = broadcasts.broadcast_start(broadcast=broadcast)
    # then
    assert list(Delivery.objects.filter(broadcast=broadcast).values_list("contact_id", flat=True)) == [berlin.pk]


def test_rejects_unknown_label(tenant_a: object) -> None:
    with pytest.raises(broadcasts.ValidationError):
        broadcasts.broadcast_create(
            name="x",
            template=TemplateFactory(),
            phone_number=PhoneNumberFactory(),
            audience={"type": "labels", "labels": ["nope"]},
        )


def test_chunks_send_everyone_into_their_threads_and_complete(
    tenant_a: object, django_capture_on_commit_callbacks: Any
) -> None:
    # given: 120 recipients (3 chunks of 50), one of them with an existing thread
    recipients = OptedInContactFactory.create_batch(120)
    broadcast = BroadcastFactory()
    existing = ThreadFactory(contact=recipients[0], phone_number=broadcast.phone_number)
    with django_capture_on_commit_callbacks() as enqueued:
        broadcasts.broadcast_start(broadcast=broadcast)
    # when
    _run_all(broadcast)
    # then
    assert len(enqueued) == 1  # the dispatch task
    assert broadcast.status == Broadcast.Status.COMPLETED
    assert broadcast.remaining == 0
    assert selectors.broadcast_counts(broadcast=broadcast)["sent"] == 120
    sent = Message.objects.filter(direction="outbound", template_name=broadcast.template.name)
    assert sent.count() == 120
    assert sent.filter(wamid__startswith="wamid.", status="sent").count() == 120
    assert sent.filter(thread=existing).count() == 1
    new_thread = Thread.objects.get(contact=recipients[1], phone_number=broadcast.phone_number)
    assert new_thread.status == Thread.Status.RESOLVED
    assert new_thread.last_message_preview == "Hello Ada, your order A-1 has shipped."
    assert new_thread.last_message_at is not None
    assert sent.first().text == "Hello Ada, your order A-1 has shipped."
    assert set(Delivery.objects.filter(broadcast=broadcast).values_list("message_id", flat=True)) == set(
        sent.values_list("id", flat=True)
    )


def test_status_webhooks_move_the_counts(tenant_a: object) -> None:
    # given: a sent broadcast of two
    OptedInContactFactory.create_batch(2)
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    _run_all(broadcast)
    first, second = Message.objects.filter(template_name=broadcast.template.name).order_by("id")
    # when
    for message, status in ((first, "delivered"), (second, "read")):
        messages.message_status_apply(
            item=StatusUpdate(
                phone_number_id=broadcast.phone_number.phone_number_id,
                wamid=message.wamid,
                status=status,
                recipient_id="",
                timestamp=timezone.now(),
            )
        )
    # then
    counts = selectors.broadcast_counts(broadcast=broadcast)
    assert (counts["delivered"], counts["read"], counts["sent"], counts["total"]) == (1, 1, 0, 2)


def test_opt_out_after_start_skips_the_recipient(tenant_a: object) -> None:
    # given
    stays, leaves = OptedInContactFactory(), OptedInContactFactory()
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    contacts.consent_record(contact=leaves, action="opt_out", source="keyword", detail="STOP")
    # when
    _run_all(broadcast)
    # then
    skipped = Delivery.objects.get(broadcast=broadcast, contact=leaves)
    assert (skipped.status, skipped.skip_reason) == (Delivery.Status.SKIPPED, "opted_out")
    assert Delivery.objects.get(broadcast=broadcast, contact=stays).status == Delivery.Status.SENT
    assert broadcast.status == Broadcast.Status.COMPLETED
    assert not Message.objects.filter(thread__contact=leaves).exists()


def test_cancel_skips_everyone_not_sent_yet(tenant_a: object) -> None:
    # given
    OptedInContactFactory.create_batch(60)
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    broadcasts.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=broadcast.first_delivery_id,
                                    hi=broadcast.first_delivery_id + 50)  # fmt: skip
    # when
    broadcast = broadcasts.broadcast_cancel(broadcast=broadcast)
    _run_all(broadcast)
    # then
    counts = selectors.broadcast_counts(broadcast=broadcast)
    assert (counts["sent"], counts["skipped"], counts["queued"]) == (50, 10, 0)
    assert broadcast.status == Broadcast.Status.CANCELLED
    # a skipped recipient's thread shows nothing that never left
    assert Message.objects.filter(direction="outbound").count() == 50


def test_pause_stops_sending_and_resume_goes_on(tenant_a: object, django_capture_on_commit_callbacks: Any) -> None:
    # given
    OptedInContactFactory.create_batch(60)
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    broadcasts.broadcast_pause(broadcast=broadcast, reason="checking the text")
    # when: a chunk task arrives while paused
    _run_all(broadcast)
    # then
    assert selectors.broadcast_counts(broadcast=broadcast)["queued"] == 60
    # when: resumed
    with django_capture_on_commit_callbacks() as enqueued:
        broadcasts.broadcast_resume(broadcast=broadcast)
    _run_all(broadcast)
    # then
    assert len(enqueued) == 1
    assert broadcast.status == Broadcast.Status.COMPLETED


def test_pause_takes_effect_within_one_batch(tenant_a: object, settings: Any) -> None:
    # given: one chunk of 50, results written 10 at a time, paused by the first write
    settings.BROADCAST_FLUSH_SIZE = 10
    settings.BROADCAST_NUMBER_RATE = 20  # two-token blocks, so the job is still sending
    OptedInContactFactory.create_batch(50)
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    Broadcast.objects.filter(pk=broadcast.pk).update(status=Broadcast.Status.PAUSED)
    Broadcast.objects.filter(pk=broadcast.pk).update(status=Broadcast.Status.RUNNING)
    # when
    _chunk_with_status_at_first_flush(broadcast, Broadcast.Status.PAUSED, 50)
    # then: at most one more batch went out, the rest is queued again, nothing is left sending
    counts = selectors.broadcast_counts(broadcast=broadcast)
    assert counts["sending"] == 0
    assert counts["sent"] <= 20
    assert counts["queued"] == 50 - counts["sent"]


def test_sweeper_puts_expired_leases_back_and_redispatches(
    tenant_a: object, django_capture_on_commit_callbacks: Any
) -> None:
    # given: rows claimed by a worker that died (sending, lease running out)
    OptedInContactFactory.create_batch(10)
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    Delivery.objects.filter(broadcast=broadcast).update(
        status=Delivery.Status.SENDING, claim_token=1, lease_until=timezone.now() + timedelta(seconds=60)
    )
    # when: swept before and after the lease ran out
    early = broadcasts.broadcast_sweep()
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        late = broadcasts.broadcast_sweep(now=timezone.now() + timedelta(seconds=61))
    # then
    assert early["expired"] == 0
    assert late["expired"] == 10
    assert len(enqueued) == 1
    assert Delivery.objects.filter(broadcast=broadcast, status=Delivery.Status.QUEUED).count() == 10
    _run_all(broadcast)
    assert broadcast.status == Broadcast.Status.COMPLETED


def test_a_stale_claim_cannot_record_over_a_new_one(tenant_a: object) -> None:
    # given: a row taken back by the sweeper and claimed by another run (token 2)
    OptedInContactFactory()
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    delivery = Delivery.objects.get(broadcast=broadcast)
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.SENDING, claim_token=2)
    report = broadcasts.ChunkReport()
    # when: the old run (token 1) reports late
    chunk = broadcasts._chunk_prepare(broadcast, [(delivery.pk, delivery.contact_id)])
    results = [broadcasts.bulk.BulkResult(delivery.pk, "sent", wamid="wamid.OLD")]
    broadcasts._flush(broadcast, 1, results, {}, report, chunk)
    # then: nothing recorded, no message in the thread
    delivery.refresh_from_db()
    assert (delivery.status, delivery.claim_token, report.sent) == (Delivery.Status.SENDING, 2, 0)
    assert not Message.objects.filter(wamid="wamid.OLD").exists()


def test_transient_failure_is_retried_and_permanent_one_recorded(tenant_a: object) -> None:
    # given
    a, b = OptedInContactFactory(), OptedInContactFactory()
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    da = Delivery.objects.get(broadcast=broadcast, contact=a)
    db = Delivery.objects.get(broadcast=broadcast, contact=b)
    Delivery.objects.filter(broadcast=broadcast).update(status=Delivery.Status.SENDING, claim_token=7)
    report = broadcasts.ChunkReport()
    results = [
        broadcasts.bulk.BulkResult(da.pk, "retry", code=130429, title="Throughput limit"),
        broadcasts.bulk.BulkResult(db.pk, "failed", code=131026, title="Message undeliverable"),
    ]
    chunk = broadcasts._chunk_prepare(broadcast, [(da.pk, a.pk), (db.pk, b.pk)])
    # when
    broadcasts._flush(broadcast, 7, results, {}, report, chunk)
    # then: the retried one waits without a message yet; the failed one shows its failure in the thread
    da.refresh_from_db()
    db.refresh_from_db()
    assert (da.status, da.attempts, da.message_id) == (Delivery.Status.QUEUED, 1, None)
    assert da.next_attempt_at > timezone.now()
    assert (db.status, db.error_code) == (Delivery.Status.FAILED, 131026)
    failed = Message.objects.get(pk=db.message_id)
    assert (failed.status, failed.error_code, failed.thread.contact_id) == ("failed", 131026, b.pk)
    assert report.retry_in is not None


def test_template_level_error_pauses_the_broadcast(tenant_a: object) -> None:
    # given: two recipients, the first send refused for the template's state
    contact, _ = OptedInContactFactory.create_batch(2)
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    delivery = Delivery.objects.get(broadcast=broadcast, contact=contact)
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.SENDING, claim_token=3)
    chunk = broadcasts._chunk_prepare(broadcast, [(delivery.pk, contact.pk)])
    # when
    status = broadcasts._flush(
        broadcast, 3, [broadcasts.bulk.BulkResult(delivery.pk, "failed", code=132015, title="Template paused")],
        {}, broadcasts.ChunkReport(), chunk,
    )  # fmt: skip
    # then
    broadcast.refresh_from_db()
    assert status == broadcast.status == Broadcast.Status.PAUSED
    assert "132015" in broadcast.paused_reason


def test_start_twice_is_refused(tenant_a: object) -> None:
    # given
    OptedInContactFactory()
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    # when / then
    with pytest.raises(broadcasts.BroadcastStateError):
        broadcasts.broadcast_start(broadcast=broadcast)


def test_scheduled_broadcast_is_started_by_the_sweeper(tenant_a: object) -> None:
    # given
    OptedInContactFactory()
    broadcast = BroadcastFactory(scheduled_at=timezone.now() + timedelta(hours=1))
    broadcast = broadcasts.broadcast_start(broadcast=broadcast)
    assert broadcast.status == Broadcast.Status.SCHEDULED
    # when
    stats = broadcasts.broadcast_sweep(now=timezone.now() + timedelta(hours=2))
    # then
    broadcast.refresh_from_db()
    assert stats["started"] == 1
    assert broadcast.status == Broadcast.Status.RUNNING


def test_recipients_of_a_broadcast_who_have_not_read_it(tenant_a: object) -> None:
    # given: a first broadcast to three; one of them read it
    OptedInContactFactory.create_batch(3)
    first = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    _run_all(first)
    reader = Message.objects.filter(template_name=first.template.name).order_by("id").first()
    Message.objects.filter(pk=reader.pk).update(status="read", status_rank=4)
    OptedInContactFactory()  # not a recipient of the first
    follow_up = BroadcastFactory(audience={"type": "broadcast", "broadcast": first.pk, "only_unread": True})
    # when
    follow_up = broadcasts.broadcast_start(broadcast=follow_up)
    # then
    assert follow_up.total == 2
    assert not Delivery.objects.filter(broadcast=follow_up, contact=reader.thread.contact).exists()


def test_existing_thread_is_bumped_and_a_new_one_is_born_with_its_preview(tenant_a: object) -> None:
    # given: one recipient with an older thread, one without
    old, new = OptedInContactFactory.create_batch(2)
    broadcast = BroadcastFactory()
    before = timezone.now() - timedelta(hours=1)
    existing = ThreadFactory(contact=old, phone_number=broadcast.phone_number, last_message_preview="earlier",
                             last_message_at=before)  # fmt: skip
    # when
    _run_all(broadcasts.broadcast_start(broadcast=broadcast))
    # then: both show the broadcast's text as their latest message
    existing.refresh_from_db()
    made = Thread.objects.get(contact=new, phone_number=broadcast.phone_number)
    text = Message.objects.get(thread=made).text
    assert existing.last_message_preview == made.last_message_preview == text
    assert existing.last_message_at > before
    assert made.last_message_at is not None


def test_cancel_mid_chunk_leaves_no_preview_of_an_unsent_message(tenant_a: object, settings: Any) -> None:
    # given: one chunk of 30 written 10 at a time, cancelled by the first write
    settings.BROADCAST_FLUSH_SIZE = 10
    settings.BROADCAST_NUMBER_RATE = 20
    OptedInContactFactory.create_batch(30)
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory())
    # when
    _chunk_with_status_at_first_flush(broadcast, Broadcast.Status.CANCELLED, 30)
    # then: threads with a sent message show it; the skipped recipients' threads show nothing
    counts = selectors.broadcast_counts(broadcast=broadcast)
    assert counts["skipped"] > 0
    threads = Thread.objects.filter(phone_number=broadcast.phone_number)
    with_message = threads.filter(messages__isnull=False).distinct()
    assert with_message.count() == counts["sent"]
    assert all(t.last_message_preview for t in with_message)
    assert set(threads.exclude(pk__in=with_message).values_list("last_message_preview", flat=True)) == {""}


def test_a_large_snapshot_refreshes_the_delivery_statistics(tenant_a: object, monkeypatch: Any) -> None:
    # given: the threshold lowered to this audience's size
    from django.db import connection

    OptedInContactFactory.create_batch(3)
    monkeypatch.setattr(broadcasts, "ANALYZE_AFTER", 3)
    query = "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'inbox_delivery' AND schemaname = %s"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(query, [connection.schema_name])
        before = cursor.fetchone()[0]
        # when
        broadcasts.broadcast_start(broadcast=BroadcastFactory())
        # then
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(query, [connection.schema_name])
        assert cursor.fetchone()[0] == before + 1


def test_scheduled_broadcast_whose_template_was_withdrawn_fails_with_the_reason(tenant_a: object) -> None:
    # given: scheduled, then its template is paused before the time comes
    OptedInContactFactory()
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory(scheduled_at=timezone.now() + timedelta(hours=1)))
    broadcast.template.status = "paused"
    broadcast.template.save(update_fields=["status"])
    # when: the sweeper runs at its time, and again later
    first = broadcasts.broadcast_sweep(now=timezone.now() + timedelta(hours=2))
    second = broadcasts.broadcast_sweep(now=timezone.now() + timedelta(hours=3))
    # then: it failed once, says why, and nothing was snapshotted or sent
    broadcast.refresh_from_db()
    assert (first["failed"], second["failed"], first["started"]) == (1, 0, 0)
    assert broadcast.status == Broadcast.Status.FAILED
    assert "Could not start at the scheduled time" in broadcast.paused_reason
    assert "not approved" in broadcast.paused_reason
    assert broadcast.completed_at is not None
    assert not Delivery.objects.filter(broadcast=broadcast).exists()


def test_scheduled_broadcast_over_the_plan_limit_fails_with_the_reason(tenant_a: object) -> None:
    # given: scheduled for 2 recipients; by its time the plan allows 1
    from django.core.cache import cache

    from billing.models import Plan

    OptedInContactFactory.create_batch(2)
    broadcast = broadcasts.broadcast_start(broadcast=BroadcastFactory(scheduled_at=timezone.now() + timedelta(hours=1)))
    Plan.objects.filter(code="free").update(max_broadcast_recipients=1)  # plan_limits_lifted restores it
    cache.clear()
    # when
    broadcasts.broadcast_sweep(now=timezone.now() + timedelta(hours=2))
    # then
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.FAILED
    assert "Could not start at the scheduled time" in broadcast.paused_reason
    assert "your plan allows 1 per broadcast" in broadcast.paused_reason
    assert not Delivery.objects.filter(broadcast=broadcast).exists()
