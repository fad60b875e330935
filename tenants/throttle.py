from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client address. Behind a proxy, gunicorn's --forwarded-allow-ips sets REMOTE_ADDR."""
    return str(request.META.get("REMOTE_ADDR", ""))


def signup_rate_exceeded(request: HttpRequest) -> bool:
    """Counts this sign-up against the client address; True when over SIGNUP_RATE_PER_HOUR."""
    key = f"signup-rate:{client_ip(request)}"
    cache.add(key, 0, timeout=3600)
    return cache.incr(key) > settings.SIGNUP_RATE_PER_HOUR


VERIFY_RATE_PER_MINUTE = 30


def verify_rate_exceeded(request: HttpRequest) -> int | None:
    """Counts one public number check against the client address (a fixed one-minute
    window); the seconds to wait when over VERIFY_RATE_PER_MINUTE, else None.

    The check is unauthenticated: without a limit it would let anyone enumerate which
    numbers belong to which companies at full speed.
    """
    limit = int(getattr(settings, "VERIFY_RATE_PER_MINUTE", VERIFY_RATE_PER_MINUTE))
    window = int(time.time() // 60)
    key = f"verify-rate:{client_ip(request)}:{window}"
    cache.add(key, 0, timeout=90)
    if cache.incr(key) > limit:
        return 60 - int(time.time()) % 60 or 1
    return None
