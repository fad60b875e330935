from __future__ import annotations

from django.test import Client

from tenants.models import Company, Domain
from tenants.tests.factories import OperatorFactory


def _operator_client() -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(OperatorFactory())
    return client


def test_operator_logs_in_on_the_public_host(public_client: Client, db: None) -> None:
    # given
    OperatorFactory(email="ops@kontakt.test")
    # when
    response = public_client.post(
        "/admin/login/?next=/admin/",
        {"username": "ops@kontakt.test", "password": "operator-password-123"},
    )
    # then
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_company_agent_cannot_log_in_to_operator_admin(public_client: Client, company_a: Company) -> None:
    # when: alice exists only in acme's schema
    response = public_client.post(
        "/admin/login/?next=/admin/",
        {"username": "alice@acme.test", "password": "correct-horse-battery-staple"},
    )
    # then
    assert response.status_code == 200
    assert b"Please enter the correct" in response.content


def test_company_list_searches_by_slug_and_filters_by_status(company_a: Company, company_b: Company) -> None:
    # given
    client = _operator_client()
    # when
    by_search = client.get("/admin/tenants/company/", {"q": "globex"})
    by_filter = client.get("/admin/tenants/company/", {"status__exact": "active", "plan__id__exact": company_a.plan_id})
    # then
    assert by_search.status_code == 200
    assert list(by_search.context["cl"].result_list) == [company_b]
    assert company_a in list(by_filter.context["cl"].result_list)
    assert company_b not in list(by_filter.context["cl"].result_list)


def test_company_list_hides_pool_schemas(company_a: Company) -> None:
    # given
    from tenants import services

    pooled = services.tenant_pool_build()
    client = _operator_client()
    # when
    response = client.get("/admin/tenants/company/")
    # then
    assert pooled not in list(response.context["cl"].result_list)


def test_company_change_page_shows_domains(company_a: Company) -> None:
    response = _operator_client().get(f"/admin/tenants/company/{company_a.pk}/change/")
    assert response.status_code == 200
    assert b"acme.localhost" in response.content


def test_companies_cannot_be_added_or_deleted_from_admin(company_a: Company) -> None:
    client = _operator_client()
    assert client.get("/admin/tenants/company/add/").status_code == 403
    assert client.get(f"/admin/tenants/company/{company_a.pk}/delete/").status_code == 403


def test_domain_list_searches_by_company(company_a: Company) -> None:
    response = _operator_client().get("/admin/tenants/domain/", {"q": "acme"})
    assert response.status_code == 200
    assert [d.domain for d in response.context["cl"].result_list] == ["acme.localhost"]
    assert Domain.objects.count() >= 2


def test_admin_requires_staff_login(public_client: Client, db: None) -> None:
    response = public_client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
