"""A Redis restart in the middle of a broadcast, with a real Celery worker and the HTTP sink.

Redis is the broker and the limits' store here, and it comes back **empty** (no
persistence): every queued chunk task, every unacknowledged one and the token buckets are
gone. Only the Delivery rows remain; the sweeper (beat's job, run here by the test with a
short quiet limit) finds the broadcast quiet and dispatches what is still queued, and
leases bring back what a chunk held. The test starts its own redis-server on a free port
(never the shared one other tests use) and restarts that one.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from django.utils import timezone
from django_tenants.utils import schema_context
from kombu.exceptions import OperationalError

from billing import services as billing_services
from config.tests.test_celery_worker import committed_db as committed_db  # the fixture
from inbox.models import Broadcast, Delivery
from inbox.services import broadcasts
from inbox.tests.test_broadcast_worker import (
    REPEAT_BOUND,
    Campaign,
    Sink,
    _broker,
    _final_states,
    _start,
    _status,
    _wait,
    campaign,  # noqa: F401 - fixture
    sink,  # noqa: F401 - fixture
    start_worker,  # noqa: F401 - fixture
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test alone: its own port and directory, no persistence."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not on PATH"
        self.process = subprocess.Popen(  # noqa: S603 - fixed arguments
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory),
             "--save", "", "--appendonly", "no", "--logfile", str(self.directory / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "the private redis-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        """Dies like a crashed server: nothing saved, clients cut off."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def keys(self) -> int:
        return int(redis.Redis(port=self.port).dbsize())


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def _no_plan_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of recipients on a test company: plan limits are billing's tests' concern."""
    monkeypatch.setattr(billing_services, "limits_reserve", lambda **kwargs: None)


def _sweep_until_complete(c: Campaign, timeout: float) -> int:
    """Runs the sweeper every second, as beat would (a publish may fail while the broker is back
    but not yet reachable: the next round tries again). Returns the number of rounds."""
    deadline = time.monotonic() + timeout
    rounds = 0
    while _status(c) != Broadcast.Status.COMPLETED:
        assert time.monotonic() < deadline, f"not completed after {timeout} s: {_final_states(c)}"
        try:
            with schema_context(c.schema):
                broadcasts.broadcast_sweep(now=timezone.now())
        except (OperationalError, redis.ConnectionError):
            pass  # the broker is not reachable yet: beat would simply run again
        rounds += 1
        time.sleep(1)
    return rounds


@pytest.mark.worker
@pytest.mark.usefixtures("_no_plan_limits")
def test_redis_restart_mid_broadcast_ends_with_everyone_in_a_final_state(
    campaign: Callable[..., Campaign],  # noqa: F811
    sink: Sink,  # noqa: F811
    start_worker: Callable[..., Any],  # noqa: F811
    private_redis: PrivateRedis,
    settings: Any,
) -> None:
    # given: a worker whose broker and limits live on the private Redis, sending 3,000 at 400/s
    settings.BROADCAST_QUIET_SECONDS = 3  # for the sweeper run by this test
    c = campaign(3000)
    with _broker(private_redis.url):
        start_worker(
            "w1", broker_url=private_redis.url, rate=400,
            env={"REDIS_URL": private_redis.url, "BROADCAST_LEASE_SECONDS": "20"},
        )  # fmt: skip
        _start(c)
        _wait(lambda: sink.stats()["total"] >= c.recipients // 5, 30, "the first fifth to be sent")
        # when: Redis crashes and comes back empty a moment later
        private_redis.kill()
        time.sleep(1.0)
        private_redis.start()
        sent_at_restart = sink.stats()["total"]
        assert private_redis.keys() == 0  # every queued chunk task is gone
        _sweep_until_complete(c, timeout=90)
    # then: everyone sent, nobody lost; repeats at most what was in flight
    stats = sink.stats()
    assert sent_at_restart < c.recipients
    assert _final_states(c) == {Delivery.Status.SENT: c.recipients}
    assert stats["unique"] == c.recipients
    assert stats["duplicates"] <= REPEAT_BOUND, stats
