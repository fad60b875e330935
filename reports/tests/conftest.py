"""Report tests' clock: services and auto_now fields read `django.utils.timezone.now`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from unittest import mock

import pytest


@contextmanager
def _at(moment: datetime) -> Iterator[None]:
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


@pytest.fixture
def clock() -> Callable[[datetime], AbstractContextManager[None]]:
    """`with clock(t): …` runs services (and auto_now fields) as if it were `t`."""
    return _at
