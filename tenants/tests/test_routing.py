from __future__ import annotations

from django.test import Client

from tenants.models import Company


def test_unknown_company_host_is_404(db: None) -> None:
    # when
    response = Client(HTTP_HOST="nobody.localhost").get("/login/")
    # then
    assert response.status_code == 404


def test_host_outside_base_domain_is_refused(db: None) -> None:
    response = Client(HTTP_HOST="evil.example.com").get("/")
    assert response.status_code == 400


def test_public_host_does_not_serve_company_pages(public_client: Client, db: None) -> None:
    response = public_client.get("/login/")
    assert response.status_code == 404


def test_company_host_does_not_serve_operator_admin(client_a: Client) -> None:
    response = client_a.get("/admin/")
    assert response.status_code == 404


def test_suspended_company_pages_answer_403_with_a_clear_page(client_a: Client, company_a: Company) -> None:
    # given
    Company.objects.filter(pk=company_a.pk).update(status=Company.Status.SUSPENDED)
    # when
    response = client_a.get("/login/")
    # then
    assert response.status_code == 403
    assert b"suspended" in response.content


def test_suspended_company_health_still_answers(client_a: Client, company_a: Company) -> None:
    Company.objects.filter(pk=company_a.pk).update(status=Company.Status.SUSPENDED)
    assert client_a.get("/healthz").status_code == 200


def test_health_reports_a_failed_dependency_with_503(public_client: Client, db: None, monkeypatch: object) -> None:
    # given
    from tenants import health

    def broken() -> None:
        raise ConnectionError("broker down")

    monkeypatch.setitem(health.CHECKS, "broker", broken)  # type: ignore[attr-defined]
    # when
    response = public_client.get("/healthz")
    # then
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["broker"] == {"ok": False, "error": "ConnectionError: broker down"}
    assert body["checks"]["postgres"]["ok"] is True
