"""Request helpers of the REST API tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from django.test import Client


def post_json(client: Client, path: str, body: Any = None, *, key: str | None = None) -> HttpResponse:
    """POST `body` as JSON, with an Idempotency-Key when `key` is given."""
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    data = json.dumps(body) if body is not None else ""
    return client.post(path, data, content_type="application/json", **extra)


def patch_json(client: Client, path: str, body: Any) -> HttpResponse:
    return client.patch(path, json.dumps(body), content_type="application/json")


# One request of a parametrized test, e.g. "charlie gets 404" for every method of a path.
Call = Callable[[Client, str], HttpResponse]


def get(client: Client, path: str) -> HttpResponse:
    return client.get(path)


def delete(client: Client, path: str) -> HttpResponse:
    return client.delete(path)


def patch_with(body: Any) -> Call:
    return lambda client, path: patch_json(client, path, body)


def post_with(body: Any = None) -> Call:
    return lambda client, path: post_json(client, path, body)
