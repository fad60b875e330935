"""Failed-login and password-reset throttling, kept in Redis through the Django cache.

Logins: two fixed windows of LOGIN_FAILURE_WINDOW seconds, each starting at its first
failure: one per e-mail address (LOGIN_FAILURE_LIMIT) and one per client address
(LOGIN_FAILURE_IP_LIMIT). A refused attempt is not counted and its password is not
checked, so an attacker cannot learn anything or extend the lock by hammering.

Password resets: every accepted request counts (each may send an e-mail), whether the
address has an account or not, so the limit tells nothing about which addresses exist:
PASSWORD_RESET_LIMIT per e-mail address and PASSWORD_RESET_IP_LIMIT per client address
within PASSWORD_RESET_WINDOW seconds. A refused request is not counted and sends nothing.

Cache keys carry the schema name (django_tenants.cache.make_key), so counters are per
company; e-mail addresses are hashed, so raw user input never becomes part of a Redis key.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from tenants.throttle import client_ip

PASSWORD_RESET_LIMIT = 3
PASSWORD_RESET_IP_LIMIT = 10
PASSWORD_RESET_WINDOW = 3600


def _email_digest(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def _counters(*, request: HttpRequest, email: str) -> list[tuple[str, int]]:
    return [
        (f"login-failures:email:{_email_digest(email)}", settings.LOGIN_FAILURE_LIMIT),
        (f"login-failures:ip:{client_ip(request)}", settings.LOGIN_FAILURE_IP_LIMIT),
    ]


def _reset_counters(*, request: HttpRequest, email: str) -> list[tuple[str, int]]:
    per_email = int(getattr(settings, "PASSWORD_RESET_LIMIT", PASSWORD_RESET_LIMIT))
    per_ip = int(getattr(settings, "PASSWORD_RESET_IP_LIMIT", PASSWORD_RESET_IP_LIMIT))
    return [
        (f"password-resets:email:{_email_digest(email)}", per_email),
        (f"password-resets:ip:{client_ip(request)}", per_ip),
    ]


def _retry_after(counters: list[tuple[str, int]], window: int) -> int:
    """Seconds until every counter is below its limit again; 0 when none is at it."""
    keys = [key for key, _ in counters]
    values = cache.get_many([*keys, *(f"{key}:until" for key in keys)])
    now = time.time()
    waits = [0]
    for key, limit in counters:
        if values.get(key, 0) >= limit:
            until = values.get(f"{key}:until", now + window)
            waits.append(max(1, math.ceil(until - now)))
    return max(waits)


def _count(counters: list[tuple[str, int]], window: int) -> None:
    """One more in each counter's fixed window (the first one starts the window)."""
    for key, _ in counters:
        if cache.add(key, 1, timeout=window):
            cache.set(f"{key}:until", time.time() + window, timeout=window)
            continue
        try:
            cache.incr(key)
        except ValueError:
            # The window ended between add() and incr(): this one starts a new one.
            cache.set(key, 1, timeout=window)
            cache.set(f"{key}:until", time.time() + window, timeout=window)


def login_retry_after(*, request: HttpRequest, email: str) -> int:
    """Seconds until `email` may try to log in from this client again; 0 when allowed now."""
    return _retry_after(_counters(request=request, email=email), settings.LOGIN_FAILURE_WINDOW)


def login_failure_record(*, request: HttpRequest, email: str) -> None:
    """Counts one failed login against the e-mail and the client address."""
    _count(_counters(request=request, email=email), settings.LOGIN_FAILURE_WINDOW)


def login_success_record(*, request: HttpRequest, email: str) -> None:
    """Forgets the e-mail's failures after a successful login.

    The client address keeps its count: logging in to one's own account must not reset
    the guessing at others from the same client.
    """
    key = _counters(request=request, email=email)[0][0]
    cache.delete_many([key, f"{key}:until"])


def _reset_window() -> int:
    return int(getattr(settings, "PASSWORD_RESET_WINDOW", PASSWORD_RESET_WINDOW))


def password_reset_retry_after(*, request: HttpRequest, email: str) -> int:
    """Seconds until a reset for `email` may be asked from this client again; 0 when allowed now."""
    return _retry_after(_reset_counters(request=request, email=email), _reset_window())


def password_reset_record(*, request: HttpRequest, email: str) -> None:
    """Counts one accepted reset request against the e-mail and the client address."""
    _count(_reset_counters(request=request, email=email), _reset_window())
