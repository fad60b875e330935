"""The broadcast funnel: sent → delivered → read → replied (within 72 h of the message)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import pytest
from django_tenants.utils import schema_context

from inbox.models import Broadcast, Delivery, Message
from inbox.tests.factories import MessageFactory, OutboundMessageFactory, ThreadFactory
from inbox.tests.factories_broadcasts import BroadcastFactory
from reports.models import BroadcastFunnel
from reports.services import reports_rollup
from reports.tests.factories import DeliveryFactory
from tenants.models import Company

Clock = Callable[[datetime], AbstractContextManager[None]]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def recipient(clock: Clock, broadcast: Broadcast, status: str, *, replies_after: list[timedelta] = ()) -> None:  # type: ignore[assignment]
    """One recipient whose broadcast message ended in `status`, and their later inbound messages."""
    with clock(T0 - timedelta(days=1)):
        thread = ThreadFactory()
        MessageFactory(thread=thread)  # they wrote before: not a reply
    with clock(T0):
        message = OutboundMessageFactory(
            thread=thread, accepted=True, status=status, status_rank=Message.STATUS_RANK[status], sent_at=T0
        )
    DeliveryFactory(broadcast=broadcast, contact=thread.contact, message=message)
    for delay in replies_after:
        with clock(T0 + delay):
            MessageFactory(thread=thread)


@pytest.fixture
def broadcast(tenant_a: Company, clock: Clock) -> Broadcast:
    with clock(T0):
        b = BroadcastFactory(status=Broadcast.Status.COMPLETED, started_at=T0, completed_at=T0)
    recipient(clock, b, Message.Status.READ, replies_after=[timedelta(hours=2), timedelta(hours=3)])
    recipient(clock, b, Message.Status.DELIVERED, replies_after=[timedelta(hours=80)])
    recipient(clock, b, Message.Status.SENT)
    recipient(clock, b, Message.Status.FAILED)
    with clock(T0):
        DeliveryFactory(broadcast=b, contact=ThreadFactory().contact, status=Delivery.Status.FAILED)
    return b


def test_funnel_counts_each_stage(broadcast: Broadcast) -> None:
    # when
    reports_rollup(now=T0 + timedelta(days=1))
    # then
    funnel = BroadcastFunnel.objects.get(broadcast_id=broadcast.pk)
    assert (funnel.sent, funnel.delivered, funnel.read, funnel.replied, funnel.failed) == (4, 2, 1, 1, 2)
    assert not funnel.is_final


def test_funnel_is_final_after_the_reply_window(broadcast: Broadcast) -> None:
    # given
    reports_rollup(now=T0 + timedelta(days=5))
    assert BroadcastFunnel.objects.get(broadcast_id=broadcast.pk).is_final
    BroadcastFunnel.objects.filter(broadcast_id=broadcast.pk).update(replied=42)
    # when
    result = reports_rollup(now=T0 + timedelta(days=5, minutes=5))
    # then: never recomputed again
    assert result.broadcasts == 0
    assert BroadcastFunnel.objects.get(broadcast_id=broadcast.pk).replied == 42


def test_draft_broadcasts_have_no_funnel(tenant_a: Company) -> None:
    # given
    BroadcastFactory()
    # when
    result = reports_rollup(now=T0)
    # then
    assert result.broadcasts == 0
    assert not BroadcastFunnel.objects.exists()


def test_funnels_stay_in_their_company(broadcast: Broadcast, company_b: Company) -> None:
    # when
    with schema_context(company_b.schema_name):
        reports_rollup(now=T0 + timedelta(days=1))
        in_b = BroadcastFunnel.objects.count()
    # then
    assert in_b == 0
