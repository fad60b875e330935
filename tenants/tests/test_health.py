from __future__ import annotations

from django.test import Client


def test_public_health_reports_every_dependency(public_client: Client, db: None) -> None:
    # when
    response = public_client.get("/healthz")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"postgres", "redis", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_company_health_answers_on_company_host(client_a: Client) -> None:
    # when
    response = client_a.get("/healthz")
    # then
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
