from __future__ import annotations

from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import ApiKey, User
from accounts.services import api_key_create
from tenants.models import Company


def test_row_made_in_a_is_invisible_from_b(company_a: Company, company_b: Company) -> None:
    # given
    with schema_context(company_a.schema_name):
        api_key_create(name="only in A")
    # when
    with schema_context(company_b.schema_name):
        names_in_b = list(ApiKey.objects.values_list("name", flat=True))
    with schema_context(company_a.schema_name):
        names_in_a = list(ApiKey.objects.values_list("name", flat=True))
    # then
    assert "only in A" in names_in_a
    assert "only in A" not in names_in_b


def test_each_company_sees_only_its_agents(company_a: Company, company_b: Company) -> None:
    with schema_context(company_a.schema_name):
        emails_a = set(User.objects.values_list("email", flat=True))
    with schema_context(company_b.schema_name):
        emails_b = set(User.objects.values_list("email", flat=True))
    assert {"alice@acme.test", "bob@acme.test"} <= emails_a
    assert emails_b == {"charlie@globex.test"}


def test_tenant_tables_do_not_exist_in_public(db: None) -> None:
    # when
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name = %s",
            ["accounts_apikey"],
        )
        (count,) = cursor.fetchone()
    # then: accounts is shared too (operators), so its tables exist in public, but empty of companies' keys
    assert count == 1
    assert not ApiKey.objects.exists()


def test_cache_keys_carry_the_schema(company_a: Company, company_b: Company) -> None:
    # given
    from django.core.cache import cache

    with schema_context(company_a.schema_name):
        cache.set("greeting", "hello from A")
    # when
    with schema_context(company_b.schema_name):
        seen_from_b = cache.get("greeting")
    # then
    assert seen_from_b is None
