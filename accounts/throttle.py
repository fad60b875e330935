"""Failed-login throttling, kept in Redis through the Django cache.

Two fixed windows of LOGIN_FAILURE_WINDOW seconds, each starting at its first failure:
one per e-mail address (LOGIN_FAILURE_LIMIT) and one per client address
(LOGIN_FAILURE_IP_LIMIT). Cache keys carry the schema name (django_tenants.cache.make_key),
so counters are per company. A refused attempt is not counted and its password is not
checked, so an attacker cannot learn anything or extend the lock by hammering.
"""

from __future__ import annotations

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from tenants.throttle import client_ip


def _counters(*, request: HttpRequest, email: str) -> list[tuple[str, int]]:
    # The e-mail is hashed: raw user input never becomes part of a Redis key.
    email_digest = hashlib.sha256(email.encode()).hexdigest()[:32]
    return [
        (f"login-failures:email:{email_digest}", settings.LOGIN_FAILURE_LIMIT),
        (f"login-failures:ip:{client_ip(request)}", settings.LOGIN_FAILURE_IP_LIMIT),
    ]


def login_retry_after(*, request: HttpRequest, email: str) -> int:
    """Seconds until `email` may try to log in from this client again; 0 when allowed now."""
    counters = _counters(request=request, email=email)
    keys = [key for key, _ in counters]
    values = cache.get_many([*keys, *(f"{key}:until" for key in keys)])
    now = time.time()
    waits = [0]
    for key, limit in counters:
        if values.get(key, 0) >= limit:
            until = values.get(f"{key}:until", now + settings.LOGIN_FAILURE_WINDOW)
            waits.append(max(1, math.ceil(until - now)))
    return max(waits)


def login_failure_record(*, request: HttpRequest, email: str) -> None:
    """Counts one failed login against the e-mail and the client address."""
    window = settings.LOGIN_FAILURE_WINDOW
    for key, _ in _counters(request=request, email=email):
        if cache.add(key, 1, timeout=window):
            cache.set(f"{key}:until", time.time() + window, timeout=window)
            continue
        try:
            cache.incr(key)
        except ValueError:
            # The window ended between add() and incr(): this failure starts a new one.
            cache.set(key, 1, timeout=window)
            cache.set(f"{key}:until", time.time() + window, timeout=window)


def login_success_record(*, request: HttpRequest, email: str) -> None:
    """Forgets the e-mail's failures after a successful login.

    The client address keeps its count: logging in to one's own account must not reset
    the guessing at others from the same client.
    """
    key = _counters(request=request, email=email)[0][0]
    cache.delete_many([key, f"{key}:until"])
