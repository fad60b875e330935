"""Send-rate limits shared by every worker process, kept in Redis (whatsapp-platform.md §3.5-3.6).

- Per business number: a token bucket (default 80 messages/s, the platform's default tier;
  set it to the number's tier, up to 1,000+). One atomic Lua script refills and takes
  tokens, so any number of processes share one rate. A 429/130429 answer pauses the
  number's bucket for a moment (`number_pause`).
- Single sends (an agent's reply, an API message, send-later, CSAT, greeting/away) take
  from the same bucket **with priority** (`number_take_priority`, called by
  `messages.message_deliver` right before the provider call): the token is taken at once,
  never waited for, and may put the bucket into debt (negative tokens), down to
  PRIORITY_DEBT_SECONDS of the rate; a broadcast's next `take` then waits until the debt
  is paid back. So replies never queue behind a broadcast, and together they stay under
  the number's limit (which counts every message, §3.5).
- Per (number, recipient) pair: at most one message per PAIR_WINDOW_MS. `SET NX PX` per
  pair in one script call for a whole block of recipients.

Keys hold the provider's `phone_number_id`, which is globally unique, so they need no
company prefix: the limit belongs to the number, whoever sends on it.
"""

from __future__ import annotations

import logging
import math
import os
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

# The platform allows 1 message per 6 s per pair; bursts borrow from later quota (§3.6).
PAIR_WINDOW_MS = 6000
BUCKET_TTL_MS = 60_000

# A single send may leave the bucket this many seconds of the rate in debt, at most: a burst
# of replies then holds a broadcast back for about this long, never more.
PRIORITY_DEBT_SECONDS = 1.0

# Refills the bucket (KEYS[1]) from Redis TIME: ARGV[1] rate per second, ARGV[2] burst.
# Tokens may be negative (a debt left by priority takes); the refill pays it back first.
_REFILL_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000) end
"""

# Bulk: takes up to ARGV[3] whole tokens (none while the number is paused, KEYS[2]);
# returns {granted, ms to wait when none}. In debt nothing is granted and the wait
# covers the debt plus one token.
BUCKET_LUA = (
    """
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return {0, pause} end
"""
    + _REFILL_LUA
    + """
local want = tonumber(ARGV[3])
local granted = math.max(0, math.min(want, math.floor(tokens)))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
local wait = 0
if granted == 0 then wait = math.ceil((1 - tokens) * 1000 / rate) end
return {granted, wait}
"""
)

# Priority (a single send): takes one token at once, whatever the bucket holds and
# whether the number is paused, going into debt down to -ARGV[3] tokens and no further
# (a bucket already there stays there). Returns {1 if a whole token was taken, else 0
# (the debt is at its bound), ms the number is still paused (0: not paused)}.
PRIORITY_LUA = (
    _REFILL_LUA
    + """
local floor = -tonumber(ARGV[3])
-- A whole token fits above the debt's floor: decided before subtracting, since
-- `before - after >= 1` fails by rounding for fractional token counts (0.3 - (0.3 - 1)).
local charged = 0
if tokens - 1 >= floor then charged = 1 end
tokens = math.max(math.min(tokens, floor), tokens - 1)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
local pause = redis.call('PTTL', KEYS[2])
if pause < 0 then pause = 0 end
return {charged, pause}
"""
)

PAIR_LUA = """
local out = {}
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, '1', 'NX', 'PX', ARGV[1]) then out[i] = 1 else out[i] = 0 end
end
return out
"""


def bucket_key(phone_number_id: str) -> str:
    return f"kontakt:throttle:number:{phone_number_id}"


def pause_key(phone_number_id: str) -> str:
    return f"kontakt:throttle:number-pause:{phone_number_id}"


def pair_key(phone_number_id: str, to: str) -> str:
    return f"kontakt:throttle:pair:{phone_number_id}:{to}"


def burst_for(rate: float) -> int:
    """A tenth of a second's worth: smooth enough for the platform's per-second count."""
    return max(1, math.ceil(rate / 10))


def debt_max(rate: float) -> float:
    """The most a priority take may leave the bucket in debt (tokens): PRIORITY_DEBT_SECONDS of the rate."""
    return max(1.0, rate * PRIORITY_DEBT_SECONDS)


class AsyncThrottle:
    """The two limits for one asyncio Redis client (redis.asyncio)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._bucket = client.register_script(BUCKET_LUA)
        self._pair = client.register_script(PAIR_LUA)

    async def take(self, *, phone_number_id: str, rate: float, want: int) -> tuple[int, int]:
        """Takes up to `want` tokens; returns (granted, milliseconds to wait when none)."""
        granted, wait = await self._bucket(
            keys=[bucket_key(phone_number_id), pause_key(phone_number_id)],
            args=[rate, burst_for(rate), want, BUCKET_TTL_MS],
        )
        return int(granted), int(wait)

    async def pairs_claim(self, *, phone_number_id: str, recipients: list[str]) -> list[bool]:
        """For each recipient, whether a message to it may go now (and records that it does)."""
        if not recipients:
            return []
        flags = await self._pair(keys=[pair_key(phone_number_id, to) for to in recipients], args=[PAIR_WINDOW_MS])
        return [bool(f) for f in flags]

    async def pairs_release(self, *, phone_number_id: str, recipients: list[str]) -> None:
        """Gives back pair slots of recipients that were not sent after all."""
        if recipients:
            await self.client.delete(*[pair_key(phone_number_id, to) for to in recipients])

    async def number_pause(self, *, phone_number_id: str, milliseconds: int) -> None:
        """Stops the number's bucket for a while (the provider said 130429 / HTTP 429)."""
        await self.client.set(pause_key(phone_number_id), "1", px=milliseconds, nx=True)


# --- single sends (synchronous: the delivery task) -------------------------------------------

_priority_script: Any = None
_client: Any = None
_client_pid = 0


def _sync_client() -> Any:
    """A redis-py client on REDIS_URL, one per process (redis-py's pool is thread-safe): the
    same database the bulk senders' asyncio clients use (bulk.py). Keys here carry no schema
    prefix on purpose: the limit belongs to the number, whichever company sends on it."""
    global _client, _client_pid
    import redis

    if _client is None or _client_pid != os.getpid():  # a forked worker child makes its own
        _client, _client_pid = redis.Redis.from_url(settings.REDIS_URL), os.getpid()
    return _client


def number_take_priority(*, phone_number_id: str, rate: float) -> bool | None:
    """Counts one single send against the number's bucket, at once and ahead of broadcasts.

    Never waits: the token is taken even from an empty bucket, leaving a debt (at most
    `debt_max(rate)` tokens) that the broadcast's next `take` waits out. Returns True when a
    whole token was taken, False when the debt was already at its bound (the send goes
    anyway), None when Redis could not be asked: the limit is ours, the provider enforces
    its own, so a Redis failure must not stop a reply (it is logged).
    """
    global _priority_script
    import redis

    try:
        client = _sync_client()
        if _priority_script is None:
            _priority_script = client.register_script(PRIORITY_LUA)
        charged, pause = _priority_script(
            keys=[bucket_key(phone_number_id), pause_key(phone_number_id)],
            args=[rate, burst_for(rate), debt_max(rate), BUCKET_TTL_MS],
            client=client,
        )
    except (redis.RedisError, OSError) as exc:
        logger.warning("throttle: priority take on %s failed (%s); sending uncounted", phone_number_id, exc)
        return None
    if int(pause):
        logger.info("throttle: %s is paused for %s ms after a rate-limit answer; a reply goes anyway",
                    phone_number_id, int(pause))  # fmt: skip
    return bool(int(charged))
