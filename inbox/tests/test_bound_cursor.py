"""The broadcast chunk's binary-bound cursor runs in the current company's schema."""

from __future__ import annotations

from django.db import connection, transaction
from django_tenants.utils import schema_context

from inbox.services.broadcasts import _bound_cursor
from tenants.models import Company


def _schema_seen() -> str:
    with _bound_cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


def test_it_follows_a_switch_of_company_without_a_django_cursor_in_between(
    company_a: Company, company_b: Company
) -> None:
    # given: a Django cursor used in A, so A's search_path is what the connection has
    with transaction.atomic(), schema_context(company_a.schema_name):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        # when: the connection is switched to B and the next cursor is a bound one
        with schema_context(company_b.schema_name):
            seen = _schema_seen()
    # then
    assert seen == company_b.schema_name


def test_its_array_parameters_arrive_whole(company_a: Company) -> None:
    # when: binary-bound arrays of ids, texts with quotes and NULLs
    with schema_context(company_a.schema_name), _bound_cursor() as cursor:
        cursor.execute(
            "SELECT array_length(%(ids)b::bigint[], 1), (%(texts)b::text[])[2], (%(codes)b::int[])[1] IS NULL",
            {"ids": list(range(500)), "texts": ["a", 'it\'s "quoted"', None], "codes": [None, 131026]},
        )
        # then
        assert cursor.fetchone() == (500, 'it\'s "quoted"', True)
