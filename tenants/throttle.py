from __future__ import annotations

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
