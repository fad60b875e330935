"""Which provider answers are retried (inbox/providers/errors.py, ARCHITECTURE.md's provider contract)."""

from __future__ import annotations

import pytest

from inbox.providers.errors import (
    ERROR_EXPLANATIONS,
    MARKETING_LIMIT_CODE,
    MARKETING_OPT_OUT_CODE,
    PERMANENT_CODES,
    RETRYABLE_CODES,
    WINDOW_CLOSED_CODE,
    ProviderError,
    error_is_retryable,
)


@pytest.mark.parametrize(
    ("code", "http_status", "retryable"),
    [
        # HTTP 429/5xx: retried, whatever the code, unless it is permanent for the recipient
        (None, 429, True),
        (None, 502, True),
        (0, 503, True),
        (190, 500, True),
        (131031, 503, True),
        (131048, 429, True),
        (99999, 500, True),
        (131026, 500, False),
        (131047, 429, False),
        (131049, 429, False),
        (131050, 500, False),
        (131051, 503, False),
        (132001, 500, False),
        # 4xx: only the transient codes
        (130429, 400, True),
        (131056, 400, True),
        (131000, 400, True),
        (190, 401, False),
        (100, 400, False),
        (131026, 400, False),
        (None, 400, False),
        (None, None, False),
    ],
)
def test_retry_rule(code: int | None, http_status: int | None, retryable: bool) -> None:
    assert error_is_retryable(code=code, http_status=http_status) is retryable
    assert ProviderError(code=code, http_status=http_status).retryable is retryable


def test_the_permanent_codes_are_known_and_never_transient() -> None:
    assert ERROR_EXPLANATIONS.keys() >= PERMANENT_CODES
    assert not PERMANENT_CODES & RETRYABLE_CODES
    assert {WINDOW_CLOSED_CODE, MARKETING_LIMIT_CODE, MARKETING_OPT_OUT_CODE, 131026, 131051} <= PERMANENT_CODES
