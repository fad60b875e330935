"""`POST /api/v1/uploads/`: CSV audiences over the API (design/API.md "Broadcasts")."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from inbox.api import uploads as upload_api
from inbox.api.uploads import UploadObject
from inbox.models import AudienceUpload, AudienceUploadRow, Contact
from inbox.services import uploads
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]
ADA, BOB = "+4915111111101", "+4915111111102"
GOOD = f"phone,seat,opt_in\n{ADA},12A,yes\n{BOB},14C,\n".encode()


def _post(client: Client, content: bytes | None, *, name: str = "passengers.csv", key: str | None = None) -> Any:
    data = {} if content is None else {"file": SimpleUploadedFile(name, content, content_type="text/csv")}
    extra = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/uploads/", data, **extra)


def test_imports_a_file_and_answers_its_id_rows_and_errors(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # when
    response = _post(api_a, GOOD + b"not-a-phone,1A,\n")
    # then
    assert response.status_code == 201
    body = response.json()
    assert (body["rows"], body["errors"]) == (
        2,
        [{"line": 4, "message": uploads.LINE_BAD_PHONE.format(value="not-a-phone")}],
    )
    assert (body["error_count"], body["columns"], body["opt_ins_recorded"], body["file_name"]) == (
        1,
        ["seat"],
        1,
        "passengers.csv",
    )
    with in_a():
        upload = AudienceUpload.objects.get(public_id=body["id"])
        assert AudienceUploadRow.objects.filter(upload=upload).count() == 2
        assert Contact.objects.get(phone=ADA).opted_in is True


def test_answer_has_the_documented_fields(tenant_a: Company, api_a: Client) -> None:
    # when
    body = _post(api_a, GOOD).json()
    # then
    assert set(body) == set(UploadObject().fields)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", uploads.FILE_EMPTY),
        (b"name,seat\nAda,1A\n", uploads.HEADER_NO_PHONE),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", uploads.FILE_NOT_CSV),
        ("phone,name\n+4915111111101,Zoë\n".encode("latin-1"), uploads.FILE_NOT_TEXT),
    ],
    ids=["empty", "no-phone-column", "png", "latin-1"],
)
def test_refuses_an_unusable_file(tenant_a: Company, api_a: Client, in_a: InA, content: bytes, message: str) -> None:
    # when
    response = _post(api_a, content)
    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["details"] == {"file": [message]}
    with in_a():
        assert not AudienceUpload.objects.exists()


def test_a_file_with_no_usable_line_lists_the_lines(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # when
    response = _post(api_a, b"phone\n123\n+49151111111012345678\n")
    # then
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == upload_api.NOTHING_IMPORTED
    assert error["details"]["lines"][0] == "Line 2: " + uploads.LINE_BAD_PHONE.format(value="123")
    assert len(error["details"]["lines"]) == 2
    with in_a():
        assert not Contact.objects.exists()


def test_requires_the_file_field(tenant_a: Company, api_a: Client) -> None:
    # when
    response = _post(api_a, None)
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"file": [upload_api.FILE_REQUIRED]}


def test_refuses_a_json_body(tenant_a: Company, api_a: Client) -> None:
    # when
    response = api_a.post("/api/v1/uploads/", {"file": "phone\n"}, content_type="application/json")
    # then
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_a_request_far_over_the_limit_is_refused_before_it_is_read(
    tenant_a: Company, api_a: Client, settings: Any
) -> None:
    # given
    settings.AUDIENCE_UPLOAD_MAX_BYTES = 1024 * 1024
    content = b"phone\n" + f"{ADA}\n".encode() * 100_000  # 1.5 MB: over limit + envelope
    # when
    response = _post(api_a, content)
    # then
    assert response.status_code == 413
    assert response.json()["error"] == {"code": "too_large", "message": uploads.FILE_TOO_LARGE.format(limit=1)}


def test_a_file_just_over_the_limit_is_413_too(tenant_a: Company, api_a: Client, in_a: InA, settings: Any) -> None:
    # given: inside the envelope allowance, so the service's own check answers
    settings.AUDIENCE_UPLOAD_MAX_BYTES = 1024 * 1024
    content = b"phone\n" + f"{ADA}\n".encode() * 70_000  # 1.05 MB
    # when
    response = _post(api_a, content)
    # then
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    with in_a():
        assert not AudienceUpload.objects.exists()


def test_too_many_lines_is_413(tenant_a: Company, api_a: Client, settings: Any) -> None:
    # given
    settings.AUDIENCE_UPLOAD_MAX_ROWS = 1
    # when
    response = _post(api_a, GOOD)
    # then
    assert response.status_code == 413
    assert response.json()["error"]["message"] == uploads.FILE_TOO_MANY_ROWS.format(limit=1)


def test_idempotency_key_replays_the_same_file_and_refuses_another(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given
    first = _post(api_a, GOOD, key="upload-1")
    # when
    again = _post(api_a, GOOD, key="upload-1")
    other = _post(api_a, GOOD + b"+4915111111103,1B,\n", key="upload-1")
    # then
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_mismatch"
    with in_a():
        assert AudienceUpload.objects.count() == 1


def test_needs_a_key(tenant_a: Company, client_a: Client) -> None:
    # when
    response = client_a.post("/api/v1/uploads/", {"file": SimpleUploadedFile("a.csv", GOOD)})
    # then
    assert response.status_code == 401
