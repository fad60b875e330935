"""The number's token bucket (inbox/providers/throttle.py) against real Redis: broadcasts take
tokens and wait, single sends take theirs at once with priority, into a bounded debt."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
import redis
import redis.asyncio
from django.conf import settings
from django.utils import timezone

from conftest import Persona
from inbox import tasks
from inbox.models import Message, PhoneNumber, Thread
from inbox.providers import throttle
from inbox.services import messages
from inbox.tests.factories import ThreadFactory
from inbox.tests.webhook_payloads import DISPLAY_A, NUMBER_A, connect
from tenants.models import Company

NUMBER = "1000000000001"


def _bulk_take(*, rate: float, want: int, phone_number_id: str = NUMBER) -> tuple[int, int]:
    """A broadcast's take, through the async client the bulk sender uses."""

    async def run() -> tuple[int, int]:
        client = redis.asyncio.from_url(settings.REDIS_URL)
        try:
            return await throttle.AsyncThrottle(client).take(phone_number_id=phone_number_id, rate=rate, want=want)
        finally:
            await client.aclose()

    return asyncio.run(run())


def _pause(*, milliseconds: int, phone_number_id: str = NUMBER) -> None:
    async def run() -> None:
        client = redis.asyncio.from_url(settings.REDIS_URL)
        try:
            await throttle.AsyncThrottle(client).number_pause(
                phone_number_id=phone_number_id, milliseconds=milliseconds
            )
        finally:
            await client.aclose()

    asyncio.run(run())


def _tokens(phone_number_id: str = NUMBER) -> float:
    raw = redis.from_url(settings.REDIS_URL).hget(throttle.bucket_key(phone_number_id), "tokens")
    assert raw is not None
    return float(raw)


def test_a_broadcast_takes_up_to_the_burst_then_waits_for_one_token() -> None:
    # when: a fresh bucket at 80/s (burst 8), then one at 10/s (burst 1)
    assert _bulk_take(rate=80, want=20) == (8, 0)
    assert _bulk_take(rate=10, want=20, phone_number_id="1000000000002") == (1, 0)
    granted, wait = _bulk_take(rate=10, want=20, phone_number_id="1000000000002")
    # then: nothing more, and about one token's time (100 ms) to wait
    assert granted == 0
    assert 50 < wait <= 100


def test_a_priority_take_succeeds_at_once_on_an_empty_bucket_and_delays_the_broadcast() -> None:
    # given: a broadcast emptied the bucket (10/s: burst 1, one token per 100 ms)
    assert _bulk_take(rate=10, want=5) == (1, 0)
    # when: three replies go out on the number
    taken = [throttle.number_take_priority(phone_number_id=NUMBER, rate=10) for _ in range(3)]
    # then: each took its token at once, the bucket is three tokens in debt
    assert taken == [True, True, True]
    assert -3.0 <= _tokens() < -2.5
    # and the broadcast's next take waits for the debt and its own token (4 x 100 ms) instead of 100 ms
    granted, wait = _bulk_take(rate=10, want=5)
    assert granted == 0
    assert 350 < wait <= 400


def test_a_priority_take_on_a_full_bucket_uses_a_token_the_broadcast_then_lacks() -> None:
    # when: one reply before any broadcast (80/s: burst 8)
    assert throttle.number_take_priority(phone_number_id=NUMBER, rate=80) is True
    # then: the broadcast's burst is one smaller
    assert _bulk_take(rate=80, want=20) == (7, 0)


def test_the_debt_stops_at_one_second_of_the_rate() -> None:
    # given: an empty bucket at 10/s
    assert _bulk_take(rate=10, want=1) == (1, 0)
    # when: a burst of 25 replies, far more than one second's worth
    taken = [throttle.number_take_priority(phone_number_id=NUMBER, rate=10) for _ in range(25)]
    # then: every one went (none waited); the first ten were counted, then the debt held at its bound
    assert taken[:10] == [True] * 10
    assert taken[-1] is False
    assert _tokens() >= -throttle.debt_max(10) == -10.0
    # and the broadcast waits about one second and one token, not 2.5 s
    granted, wait = _bulk_take(rate=10, want=1)
    assert granted == 0
    assert 1000 < wait <= 1100


def test_the_debt_is_paid_back_by_the_refill() -> None:
    # given: 80/s, emptied, then 4 replies (4 tokens in debt = 50 ms)
    assert _bulk_take(rate=80, want=8) == (8, 0)
    for _ in range(4):
        throttle.number_take_priority(phone_number_id=NUMBER, rate=80)
    # when: the broadcast waits as told
    granted, wait = _bulk_take(rate=80, want=8)
    assert granted == 0
    assert 40 < wait <= 63
    asyncio.run(asyncio.sleep(wait / 1000 + 0.03))
    # then: it gets tokens again
    granted, _ = _bulk_take(rate=80, want=8)
    assert granted >= 1


def test_a_paused_number_still_counts_a_reply_without_holding_it() -> None:
    # given: the provider answered 130429 to the broadcast, the number's bucket is paused
    _pause(milliseconds=2000)
    # when
    taken = throttle.number_take_priority(phone_number_id=NUMBER, rate=80)
    # then: the reply went and was counted; the broadcast still waits for the pause
    assert taken is True
    assert _tokens() == pytest.approx(7.0, abs=0.2)
    granted, wait = _bulk_take(rate=80, want=8)
    assert granted == 0
    assert 1500 < wait <= 2000


def test_numbers_have_their_own_buckets() -> None:
    # when: replies on one number
    for _ in range(5):
        throttle.number_take_priority(phone_number_id=NUMBER, rate=10)
    # then: another number's broadcast is not held back
    assert _bulk_take(rate=10, want=1, phone_number_id="1000000000002") == (1, 0)


def test_redis_unreachable_does_not_stop_a_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a client on a port nobody listens on
    monkeypatch.setattr(throttle, "_sync_client", lambda: redis.Redis(port=1, socket_connect_timeout=0.2))
    # when / then: no exception, the take reports it could not count
    assert throttle.number_take_priority(phone_number_id=NUMBER, rate=80) is None


# --- through the real single-send path ------------------------------------------------------


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


@pytest.fixture
def open_thread(tenant_a: Company, number_a: PhoneNumber) -> Thread:
    return ThreadFactory(phone_number=number_a, window_open=True)


def _deliver(message: Message) -> None:
    tasks.message_deliver_task.run(*json.loads(json.dumps([message.pk])))


def test_a_single_send_takes_one_token_of_its_numbers_bucket(
    alice: Persona, open_thread: Thread, settings: Any
) -> None:
    # given: the number at 80/s (burst 8), bucket untouched
    settings.BROADCAST_NUMBER_RATES = {NUMBER_A: 80}
    message = messages.message_send(thread=open_thread, sender=alice.user, type="text", text="Hi")
    assert not redis.from_url(settings.REDIS_URL).exists(throttle.bucket_key(NUMBER_A))
    # when: the delivery task sends it (sandbox provider)
    _deliver(message)
    # then: sent, and one token gone from the number's bucket
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert _tokens(NUMBER_A) == pytest.approx(7.0, abs=0.2)


def test_single_sends_at_a_low_rate_put_the_broadcast_in_debt_and_never_wait(
    alice: Persona, open_thread: Thread, settings: Any
) -> None:
    # given: a number configured at 2 msg/s whose bucket a broadcast emptied
    settings.BROADCAST_NUMBER_RATES = {NUMBER_A: 2}
    assert _bulk_take(rate=2, want=1, phone_number_id=NUMBER_A) == (1, 0)
    sent = [messages.message_send(thread=open_thread, sender=alice.user, type="text", text=f"#{i}") for i in range(3)]
    # when: three replies are delivered
    for message in sent:
        _deliver(message)
    # then: all went; the bucket holds the debt of its 1 s bound (2 tokens), so the broadcast waits ~1.5 s
    assert {m.status for m in Message.objects.filter(pk__in=[m.pk for m in sent])} == {Message.Status.SENT}
    assert -2.0 <= _tokens(NUMBER_A) < -1.9
    granted, wait = _bulk_take(rate=2, want=1, phone_number_id=NUMBER_A)
    assert granted == 0
    assert 1400 < wait <= 1500


def test_a_delivery_that_fails_the_window_check_takes_no_token(
    alice: Persona, open_thread: Thread, settings: Any
) -> None:
    # given: queued while open, the window closed before the worker got to it
    message = messages.message_send(thread=open_thread, sender=alice.user, type="text", text="Hi")
    Thread.objects.filter(pk=open_thread.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    # when
    _deliver(message)
    # then: nothing went out, nothing was counted
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert not redis.from_url(settings.REDIS_URL).exists(throttle.bucket_key(NUMBER_A))


def test_a_priority_take_in_a_fractional_debt_counts_its_whole_token() -> None:
    # given: 1.3 tokens in debt, stamped ahead so no refill happens during the take
    client = redis.from_url(settings.REDIS_URL)
    client.hset(throttle.bucket_key(NUMBER), mapping={"tokens": "-1.3", "ts": str(10**15)})
    # when
    taken = throttle.number_take_priority(phone_number_id=NUMBER, rate=10)
    # then: a whole token was taken (-1.3 - (-1.3 - 1) is 0.9999… in floating point, not a reason to say no)
    assert taken is True
    assert _tokens() == pytest.approx(-2.3)
