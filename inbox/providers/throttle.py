"""Send-rate limits shared by every worker process, kept in Redis (whatsapp-platform.md §3.5-3.6).

- Per business number: a token bucket (default 80 messages/s, the platform's default tier;
  set it to the number's tier, up to 1,000+). One atomic Lua script refills and takes
  tokens, so any number of processes share one rate. A 429/130429 answer pauses the
  number's bucket for a moment (`number_pause`).
- Per (number, recipient) pair: at most one message per PAIR_WINDOW_MS. `SET NX PX` per
  pair in one script call for a whole block of recipients.

Keys hold the provider's `phone_number_id`, which is globally unique, so they need no
company prefix: the limit belongs to the number, whoever sends on it.
"""

from __future__ import annotations

import math
from typing import Any

# The platform allows 1 message per 6 s per pair; bursts borrow from later quota (§3.6).
PAIR_WINDOW_MS = 6000
BUCKET_TTL_MS = 60_000

BUCKET_LUA = """
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then return {0, pause} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then tokens = burst; ts = now end
if now > ts then tokens = math.min(burst, tokens + (now - ts) * rate / 1000) end
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(math.max(now, ts)))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
local wait = 0
if granted == 0 then wait = math.ceil((1 - tokens) * 1000 / rate) end
return {granted, wait}
"""

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
