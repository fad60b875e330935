"""`POST /api/v1/uploads/`: CSV audiences and media files over the API (design/API.md)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from inbox.api import uploads as upload_api
from inbox.api.uploads import MediaUploadObject, UploadObject
from inbox.models import AudienceUpload, AudienceUploadRow, Contact, MediaUpload
from inbox.services import media_uploads, uploads
from inbox.tests.media_samples import DOCX, JPEG, PDF, PNG, XLSX
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]
ADA, BOB = "+4915111111101", "+4915111111102"
GOOD = f"phone,seat,opt_in\n{ADA},12A,yes\n{BOB},14C,\n".encode()


def _post(
    client: Client,
    content: bytes | None,
    *,
    name: str = "passengers.csv",
    key: str | None = None,
    content_type: str = "text/csv",
) -> Any:
    data = {} if content is None else {"file": SimpleUploadedFile(name, content, content_type=content_type)}
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
    assert body["kind"] == "csv"


def test_a_csv_named_otherwise_is_an_audience_by_its_content_type(tenant_a: Company, api_a: Client) -> None:
    # when
    response = _post(api_a, GOOD, name="passengers.txt", content_type="text/csv")
    # then
    assert response.status_code == 201
    assert (response.json()["kind"], response.json()["rows"]) == ("csv", 2)


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


# --- media files ------------------------------------------------------------------------------


def _stored_files(folder: str = "") -> list[str]:
    folders, files = default_storage.listdir(folder)
    found = [f"{folder}/{name}".lstrip("/") for name in files]
    for sub in folders:
        found += _stored_files(f"{folder}/{sub}".lstrip("/"))
    return found


def _media(client: Client, content: bytes, name: str, content_type: str = "application/octet-stream", **kw: Any) -> Any:
    return _post(client, content, name=name, content_type=content_type, **kw)


@pytest.mark.parametrize(
    ("content", "name", "content_type", "mime_type", "filename"),
    [
        (PNG, "receipt.png", "image/png", "image/png", "receipt.png"),
        (JPEG, "photo.jpeg", "image/jpeg", "image/jpeg", "photo.jpeg"),
        (PDF, "invoice.pdf", "application/pdf", "application/pdf", "invoice.pdf"),
        (
            DOCX,
            "contract.docx",
            "application/octet-stream",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "contract.docx",
        ),
        (
            XLSX,
            "prices",
            "application/octet-stream",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "prices.xlsx",
        ),
        ("Gate B12, Zoë\n".encode(), "boarding.txt", "text/plain", "text/plain", "boarding.txt"),
    ],
    ids=["png", "jpeg", "pdf", "docx", "xlsx-without-extension", "text"],
)
def test_stores_a_media_file_and_answers_its_type_by_content(
    tenant_a: Company,
    api_a: Client,
    in_a: InA,
    content: bytes,
    name: str,
    content_type: str,
    mime_type: str,
    filename: str,
) -> None:
    # when
    response = _media(api_a, content, name, content_type)
    # then
    assert response.status_code == 201
    body = response.json()
    assert set(body) == set(MediaUploadObject().fields)
    assert (body["kind"], body["mime_type"], body["filename"], body["size"]) == (
        "media",
        mime_type,
        filename,
        len(content),
    )
    with in_a():
        upload = MediaUpload.objects.get(public_id=body["id"])
        assert upload.api_key is not None
        assert upload.file.name.startswith("media/")
        assert f"/{tenant_a.schema_name}/uploads/{upload.public_id.hex}/" in upload.file.name
        with upload.file.open("rb") as stored:
            assert stored.read() == content
        assert not AudienceUpload.objects.exists()


@pytest.mark.parametrize(
    ("content", "name", "content_type", "mime_type", "filename"),
    [
        (PNG, "photo.jpg", "image/jpeg", "image/png", "photo.png"),
        (PDF, "scan", "application/octet-stream", "application/pdf", "scan.pdf"),
        (JPEG, "holiday.final", "image/png", "image/jpeg", "holiday.final.jpg"),
    ],
    ids=["png-named-jpg", "pdf-without-extension", "unknown-extension"],
)
def test_the_content_decides_the_type_and_the_name_follows_it(
    tenant_a: Company, api_a: Client, content: bytes, name: str, content_type: str, mime_type: str, filename: str
) -> None:
    # when
    body = _media(api_a, content, name, content_type).json()
    # then
    assert (body["mime_type"], body["filename"]) == (mime_type, filename)


@pytest.mark.parametrize(
    ("content", "name", "content_type"),
    [
        (b"MZ\x90\x00\x03" + b"\x00" * 60, "setup.exe", "application/octet-stream"),
        (b"<html><body>Hi</body></html>", "page.html", "text/html"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "sticker.webp", "image/webp"),
        (b"just some text, not an image", "picture.png", "image/png"),
        (b"PK\x03\x04" + b"\x00" * 40, "archive.docx", "application/octet-stream"),
        (b"line one\x00line two", "notes.txt", "text/plain"),
        (b"plain words", "notes.md", "text/markdown"),
    ],
    ids=["exe", "html", "webp", "text-named-png", "broken-zip", "text-with-nul", "text-not-called-text"],
)
def test_refuses_a_file_that_is_neither_csv_nor_sendable_media(
    tenant_a: Company, api_a: Client, in_a: InA, content: bytes, name: str, content_type: str
) -> None:
    # when
    response = _media(api_a, content, name, content_type)
    # then
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid",
        "message": media_uploads.MEDIA_TYPE_REFUSED,
        "details": {"file": [media_uploads.MEDIA_TYPE_REFUSED]},
    }
    with in_a():
        assert not MediaUpload.objects.exists()


def test_refuses_an_empty_media_file(tenant_a: Company, api_a: Client) -> None:
    # when
    response = _media(api_a, b"", "receipt.png", "image/png")
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"file": [media_uploads.MEDIA_EMPTY]}


def test_a_media_file_over_the_limit_is_413(tenant_a: Company, api_a: Client, in_a: InA, settings: Any) -> None:
    # given: within the envelope allowance, so the kind's own limit answers
    settings.MEDIA_UPLOAD_MAX_BYTES = 1024 * 1024
    content = PNG + b"\x00" * (1024 * 1024)
    # when
    response = _media(api_a, content, "big.png", "image/png")
    # then
    assert response.status_code == 413
    message = "The file is 1.1 MB; images can be at most 1 MB."
    assert response.json()["error"] == {"code": "too_large", "message": message, "details": {"file": [message]}}
    with in_a():
        assert not MediaUpload.objects.exists()
    assert not [name for name in _stored_files() if name.endswith("/big.png")]


def test_the_channel_limit_applies_without_the_setting(tenant_a: Company, api_a: Client) -> None:
    # given
    assert media_uploads.media_upload_max_bytes("image") == 16 * 1024 * 1024
    assert media_uploads.media_upload_max_bytes("document") == 100 * 1024 * 1024


def test_a_media_file_far_over_every_limit_is_refused_before_it_is_read(
    tenant_a: Company, api_a: Client, settings: Any
) -> None:
    # given
    settings.AUDIENCE_UPLOAD_MAX_BYTES = 1024 * 1024
    settings.MEDIA_UPLOAD_MAX_BYTES = 1024 * 1024
    content = PNG + b"\x00" * (1536 * 1024)
    # when
    response = _media(api_a, content, "huge.png", "image/png")
    # then
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "too_large",
        "message": upload_api.REQUEST_TOO_LARGE.format(limit="1", csv="1", image="1", document="1"),
    }


def test_idempotency_key_replays_a_media_upload(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given
    first = _media(api_a, PNG, "receipt.png", "image/png", key="media-1")
    # when
    again = _media(api_a, PNG, "receipt.png", "image/png", key="media-1")
    other = _media(api_a, PDF, "invoice.pdf", "application/pdf", key="media-1")
    # then
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    with in_a():
        assert MediaUpload.objects.count() == 1
