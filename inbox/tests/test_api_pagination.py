"""config.api.CursorPagination, the default pager of every list endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from accounts.models import User
from config.api import CursorPagination
from tenants.models import Company
from tenants.services import company_host


class _AgentListApi(APIView):
    """Stands for a list endpoint over a model without `created_at`."""

    ordering = ("-date_joined", "-id")


def _request(company: Company, path: str, **params: Any) -> Request:
    return Request(APIRequestFactory().get(path, params, HTTP_HOST=company_host(company)))


def _page(company: Company, path: str, **params: Any) -> dict[str, Any]:
    paginator = CursorPagination()
    with CaptureQueriesContext(connection) as captured:
        page = paginator.paginate_queryset(User.objects.all(), _request(company, path, **params), view=_AgentListApi())
    # django-tenants may first SET search_path; the page itself is one SELECT, and no COUNT.
    queries = [q["sql"] for q in captured.captured_queries if not q["sql"].startswith("SET search_path")]
    assert len(queries) == 1
    assert "COUNT(" not in queries[0].upper()
    return paginator.get_paginated_response([user.email for user in page or []]).data  # type: ignore[no-any-return]


def test_pages_newest_first_with_cursor_links(tenant_a: Company) -> None:
    # given company A has alice (joined first) and bob
    # when
    first = _page(tenant_a, "/api/v1/agents", page_size=1)
    # then
    assert first["results"] == ["bob@acme.test"]
    assert first["previous"] is None
    assert first["next"].startswith(f"http://{company_host(tenant_a)}/api/v1/agents?cursor=")
    assert "page_size=1" in first["next"]


def test_next_link_leads_to_the_following_page(tenant_a: Company) -> None:
    # given
    first = _page(tenant_a, "/api/v1/agents", page_size=1)
    cursor = first["next"].split("cursor=")[1].split("&")[0]
    # when
    second = _page(tenant_a, "/api/v1/agents", page_size=1, cursor=cursor)
    # then
    assert second["results"] == ["alice@acme.test"]
    assert second["previous"] is not None
    assert second["next"] is None


@pytest.mark.parametrize(("params", "size"), [({}, 50), ({"page_size": "10"}, 10), ({"page_size": "500"}, 100)])
def test_page_size_defaults_to_50_and_caps_at_100(tenant_a: Company, params: dict[str, str], size: int) -> None:
    # when
    page_size = CursorPagination().get_page_size(_request(tenant_a, "/api/v1/agents", **params))
    # then
    assert page_size == size


def test_default_ordering_is_newest_created_first(tenant_a: Company) -> None:
    # when a view names no ordering of its own
    ordering = CursorPagination().get_ordering(_request(tenant_a, "/api/v1/x"), User.objects.none(), APIView())
    # then
    assert ordering == ("-created_at", "-id")
