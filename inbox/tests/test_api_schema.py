"""The OpenAPI document and Swagger UI, served on a company's host without a key."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from django.core.management import call_command
from django.test import Client


def test_schema_is_served_without_a_key(client_a: Client) -> None:
    # when
    response = client_a.get("/api/schema/")
    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert "/api/v1/me" in yaml.safe_load(response.content)["paths"]


def test_schema_documents_bearer_keys_and_the_error_shape(client_a: Client) -> None:
    # when
    schema = json.loads(client_a.get("/api/schema/", {"format": "json"}).content)
    # then
    assert schema["components"]["securitySchemes"]["ApiKey"]["type"] == "http"
    assert schema["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    me = schema["paths"]["/api/v1/me"]["get"]
    assert me["security"] == [{"ApiKey": []}]
    assert me["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Me"}
    assert me["responses"]["401"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert schema["components"]["schemas"]["Error"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert schema["components"]["schemas"]["ErrorBody"]["required"] == ["code", "message"]
    assert set(schema["components"]["schemas"]["MeCompany"]["properties"]) == {"slug", "name", "plan", "verified"}
    assert set(schema["components"]["schemas"]["MeKey"]["properties"]) == {"name", "prefix"}


def test_swagger_ui_is_served_from_our_static_files(client_a: Client) -> None:
    # when
    response = client_a.get("/api/docs/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "/api/schema/" in html
    assert "cdn" not in html.lower()


def test_schema_generates_without_warnings(tmp_path: Path) -> None:
    # when (raises SchemaGenerationError on any warning or an invalid document)
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    # then
    assert "/api/v1/me" in yaml.safe_load((tmp_path / "schema.yaml").read_text())["paths"]
