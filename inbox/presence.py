"""Who else has a thread open, and who is typing in it: short-lived entries in the cache.

One cache entry per thread maps agent pk → {name, seen until, typing until}. Every poll
of an open thread renews the viewer's entry, so an agent who closes the tab drops out
after VIEWING_TTL seconds. Two agents polling at the same instant may overwrite each
other's renewal; the next poll (1.5 s later) puts it back, well inside the TTL. The cache's
key function carries the schema name, so companies never see each other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from accounts.models import User
from inbox.models import Thread

VIEWING_TTL = 6.0
TYPING_TTL = 4.0


@dataclass(frozen=True)
class Presence:
    name: str
    is_typing: bool


def _key(thread: Thread) -> str:
    return f"inbox:presence:{thread.public_id}"


def _live(entries: dict[str, dict[str, Any]], now: float) -> dict[str, dict[str, Any]]:
    return {pk: entry for pk, entry in entries.items() if entry.get("until", 0) > now}


def presence_touch(*, thread: Thread, agent: User, typing: bool = False) -> list[Presence]:
    """Records that the agent has the thread open (and, with `typing`, is writing in it);
    answers the other agents who have it open, from the same read of the cache."""
    now = time.time()
    entries = _live(cache.get(_key(thread)) or {}, now)
    previous = entries.get(str(agent.pk), {})
    entries[str(agent.pk)] = {
        "name": agent.get_short_name(),
        "until": now + VIEWING_TTL,
        "typing_until": now + TYPING_TTL if typing else previous.get("typing_until", 0),
    }
    cache.set(_key(thread), entries, timeout=int(VIEWING_TTL * 2))
    return _others(entries, agent=agent, now=now)


def _others(entries: dict[str, dict[str, Any]], *, agent: User, now: float) -> list[Presence]:
    others = [
        Presence(name=entry["name"], is_typing=entry.get("typing_until", 0) > now)
        for pk, entry in entries.items()
        if pk != str(agent.pk)
    ]
    return sorted(others, key=lambda p: p.name)


def presence_list_others(*, thread: Thread, agent: User) -> list[Presence]:
    """The other agents who have the thread open now, by name."""
    now = time.time()
    return _others(_live(cache.get(_key(thread)) or {}, now), agent=agent, now=now)
