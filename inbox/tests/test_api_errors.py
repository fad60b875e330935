"""Every error of the API has one shape: `{"error": {"code", "message", "details"?}}`.

Paths no public endpoint reaches yet (request bodies, object lookups) go through the
probe views of `inbox.tests.probe_urls`, built like real endpoints.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from django.core.exceptions import RequestDataTooBig
from django.test import Client, RequestFactory
from pytest_django.fixtures import Settings
from rest_framework.permissions import BasePermission

from accounts.services import IssuedApiKey
from config.api import handler400
from conftest import Persona
from inbox.api.views import MeApi
from inbox.tests.probe_urls import OWNERS_ONLY_MESSAGE

ApiClient = Callable[..., Client]
probe_urls = pytest.mark.urls("inbox.tests.probe_urls")


@probe_urls
def test_malformed_json_is_invalid(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # when
    response = api_client(alice, alice_key).post(
        "/api/v1/_probe/contacts", '{"phone": "+49151', content_type="application/json"
    )
    # then
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"].startswith("JSON parse error")
    assert set(error) == {"code", "message"}


@probe_urls
def test_failed_validation_maps_fields_to_messages(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey
) -> None:
    # given a phone that is too long, no name, and a nested object missing its field
    body = {"phone": "+4915112345678901234", "address": {}}
    # when
    response = api_client(alice, alice_key).post("/api/v1/_probe/contacts", body, content_type="application/json")
    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid",
            "message": "The request is invalid: phone: Ensure this field has no more than 16 characters.",
            "details": {
                "phone": ["Ensure this field has no more than 16 characters."],
                "name": ["This field is required."],
                "address.city": ["This field is required."],
            },
        }
    }


@probe_urls
def test_valid_body_passes(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # when
    response = api_client(alice, alice_key).post(
        "/api/v1/_probe/contacts",
        {"phone": "+4915112345678", "name": "Dora", "address": {"city": "Berlin"}},
        content_type="application/json",
    )
    # then
    assert response.status_code == 201
    assert response.json() == {"phone": "+4915112345678", "name": "Dora", "address": {"city": "Berlin"}}


@probe_urls
def test_django_validation_error_from_a_service_is_invalid(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey
) -> None:
    # when the view calls api_key_create with a blank name, which raises Django's ValidationError
    response = api_client(alice, alice_key).post("/api/v1/_probe/keys", {"name": "  "}, content_type="application/json")
    # then
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "code": "invalid",
            "message": "The request is invalid: name: Give the key a name.",
            "details": {"name": ["Give the key a name."]},
        }
    }


class _DenyAll(BasePermission):
    def has_permission(self, request: object, view: object) -> bool:
        return False


def test_permission_refused_is_permission_denied(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an endpoint whose permission refuses this key
    monkeypatch.setattr(MeApi, "permission_classes", [_DenyAll])
    # when
    response = api_client(alice, alice_key).get("/api/v1/me")
    # then
    assert response.status_code == 403
    assert response.json() == {
        "error": {"code": "permission_denied", "message": "You do not have permission to perform this action."}
    }


@probe_urls
def test_django_permission_denied_keeps_its_message(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey
) -> None:
    # when a service raises Django's PermissionDenied with a reason
    response = api_client(alice, alice_key).post("/api/v1/_probe/owners-only")
    # then
    assert response.status_code == 403
    assert response.json() == {"error": {"code": "permission_denied", "message": OWNERS_ONLY_MESSAGE}}


@probe_urls
def test_unknown_object_is_not_found(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # when
    response = api_client(alice, alice_key).get(f"/api/v1/_probe/keys/{uuid.uuid4()}")
    # then Django's message (which names the model) is not shown
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


@probe_urls
def test_charlie_gets_404_for_an_object_of_a(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey, charlie: Persona, charlie_key: IssuedApiKey
) -> None:
    # given alice's key object is visible on A
    own = api_client(alice, alice_key).get(f"/api/v1/_probe/keys/{alice_key.api_key.public_id}")
    assert own.status_code == 200
    # when charlie asks for it on B
    response = api_client(charlie, charlie_key).get(f"/api/v1/_probe/keys/{alice_key.api_key.public_id}")
    # then it looks like any unknown object
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/me/extra", "/api/v2/me"])
def test_unknown_path_under_api_is_not_found(client_a: Client, path: str) -> None:
    # when
    response = client_a.get(path)
    # then JSON, not the HTML 404 page
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}


def test_wrong_method_is_method_not_allowed(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # when
    response = api_client(alice, alice_key).post("/api/v1/me", {}, content_type="application/json")
    # then
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert response.json() == {"error": {"code": "method_not_allowed", "message": 'Method "POST" not allowed.'}}


def test_a_body_that_is_not_json_is_unsupported_media_type(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey
) -> None:
    # when
    response = api_client(alice, alice_key).post("/api/v1/contacts/", "phone=+4915123456789", content_type="text/plain")
    # then
    assert response.status_code == 415
    assert response.json() == {
        "error": {"code": "unsupported_media_type", "message": 'Unsupported media type "text/plain" in request.'}
    }


def test_an_accept_header_we_cannot_serve_is_not_acceptable(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey
) -> None:
    # when
    response = api_client(alice, alice_key).get("/api/v1/me", HTTP_ACCEPT="application/xml")
    # then
    assert response.status_code == 406
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "not_acceptable"
    assert error["message"]


@probe_urls
def test_json_body_over_the_limit_is_too_large(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey, settings: Settings
) -> None:
    # given
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = json.dumps({"phone": "+4915112345678", "name": "D" * 200, "address": {"city": "Berlin"}})
    # when
    response = api_client(alice, alice_key).post("/api/v1/_probe/contacts", body, content_type="application/json")
    # then
    assert response.status_code == 413
    assert response.json() == {"error": {"code": "too_large", "message": "The request body is too large."}}


@probe_urls
def test_form_fields_over_the_limit_are_too_large(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey, settings: Settings
) -> None:
    # given Django's multipart parser raises RequestDataTooBig for fields over the limit
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    # when
    response = api_client(alice, alice_key).post("/api/v1/_probe/uploads", {"note": "x" * 200})
    # then
    assert response.status_code == 413
    assert response.json() == {"error": {"code": "too_large", "message": "The request body is too large."}}


@probe_urls
def test_form_fields_under_the_limit_pass(api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey) -> None:
    # when
    response = api_client(alice, alice_key).post("/api/v1/_probe/uploads", {"note": "hello"})
    # then
    assert response.status_code == 201
    assert response.json() == {"fields": ["note"]}


def test_django_400_for_a_body_too_big_is_413_under_api(rf: RequestFactory) -> None:
    # given Django itself refused the body (e.g. middleware read request.POST) before any view
    request = rf.post("/api/v1/me")
    # when
    response = handler400(request, RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."))
    # then
    assert response.status_code == 413
    assert json.loads(response.content) == {"error": {"code": "too_large", "message": "The request body is too large."}}


def test_django_400_under_api_is_invalid(rf: RequestFactory) -> None:
    # when
    response = handler400(rf.get("/api/v1/me"), None)
    # then
    assert response.status_code == 400
    assert json.loads(response.content) == {"error": {"code": "invalid", "message": "Bad request."}}


def test_too_many_requests_is_rate_limited(
    api_client: ApiClient, alice: Persona, alice_key: IssuedApiKey, settings: Settings
) -> None:
    # given
    settings.API_RATE_PER_MINUTE = 1
    client = api_client(alice, alice_key)
    client.get("/api/v1/me")
    # when
    response = client.get("/api/v1/me")
    # then
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json() == {
        "error": {
            "code": "rate_limited",
            "message": "Too many requests. Retry after the time in Retry-After.",
            "details": {"retry_after": int(response["Retry-After"])},
        }
    }


def test_unexpected_exception_is_server_error(
    alice: Persona, alice_key: IssuedApiKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a view that fails unexpectedly
    def broken_get(self: MeApi, request: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(MeApi, "get", broken_get)
    client = Client(raise_request_exception=False, HTTP_HOST=alice.host, HTTP_AUTHORIZATION=f"Bearer {alice_key.key}")
    # when
    response = client.get("/api/v1/me")
    # then nothing of the exception leaks
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "error": {"code": "server_error", "message": "Something went wrong on our side. It has been logged."}
    }
