"""Downloading received media: the two Graph calls, limits and types, the sandbox's samples."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from inbox import tasks
from inbox.models import Message, PhoneNumber
from inbox.providers.sandbox import sample_pdf, sample_png
from inbox.services import media
from inbox.tests.factories import MessageFactory, ThreadFactory
from inbox.tests.provider_stub import ProviderStub, StubMedia
from inbox.tests.webhook_payloads import DISPLAY_A, NUMBER_A, connect
from tenants.models import Company


@pytest.fixture
def stub(settings: Any) -> Iterator[ProviderStub]:
    with ProviderStub.running() as running:
        settings.WHATSAPP_API_BASE = running.base_url
        settings.WHATSAPP_API_VERSION = "v25.0"
        yield running


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


def _received(number: PhoneNumber, *, kind: str = "image", media_id: str = "m-1", **kw: Any) -> Message:
    return MessageFactory(thread=ThreadFactory(phone_number=number), type=kind, media_id=media_id,
                          media_status=Message.MediaStatus.PENDING, text="", **kw)  # fmt: skip


def _fetch(message: Message) -> Message:
    tasks.media_fetch_task.run(*json.loads(json.dumps([message.pk])))
    message.refresh_from_db()
    return message


def test_image_is_downloaded_with_the_token_into_storage(
    tenant_a: Company, number_a: PhoneNumber, stub: ProviderStub
) -> None:
    # given
    stub.media["m-1"] = StubMedia(sample_png(), "image/png", announced_size=len(sample_png()))
    message = _received(number_a)
    # when
    _fetch(message)
    # then
    assert message.media_status == Message.MediaStatus.READY
    assert message.media_mime_type == "image/png"
    assert message.media_file.name.startswith("media/")
    assert message.media_file.name.endswith(".png")
    with message.media_file.open("rb") as fh:
        assert fh.read() == sample_png()
    lookup, download = stub.requests
    assert lookup.path == "/v25.0/m-1"
    assert download.path == "/files/m-1"
    assert lookup.headers["Authorization"] == download.headers["Authorization"] == "Bearer token-x"


def test_document_keeps_its_filename(tenant_a: Company, number_a: PhoneNumber, stub: ProviderStub) -> None:
    # given
    stub.media["d-1"] = StubMedia(sample_pdf(), "application/pdf", announced_size=len(sample_pdf()))
    message = _received(number_a, kind="document", media_id="d-1", media_filename="Rechnung 17.pdf")
    # when
    _fetch(message)
    # then
    assert message.media_status == Message.MediaStatus.READY
    assert message.media_filename == "Rechnung 17.pdf"
    assert message.media_file.name.endswith("/Rechnung_17.pdf")


def test_announced_size_over_the_limit_is_refused_without_download(
    tenant_a: Company, number_a: PhoneNumber, stub: ProviderStub
) -> None:
    # given
    stub.media["m-1"] = StubMedia(b"x", "image/jpeg", announced_size=media.DEFAULT_MAX_BYTES + 1)
    message = _received(number_a)
    # when
    _fetch(message)
    # then
    assert message.media_status == Message.MediaStatus.FAILED
    assert "over the limit" in message.error_detail
    assert [r.path for r in stub.requests] == ["/v25.0/m-1"]


def test_a_file_bigger_than_announced_is_cut_off(
    tenant_a: Company, number_a: PhoneNumber, stub: ProviderStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: no size announced, and more bytes than the limit
    monkeypatch.setattr(media, "DEFAULT_MAX_BYTES", 1024)
    stub.media["m-1"] = StubMedia(b"x" * 5000, "image/jpeg")
    message = _received(number_a)
    # when
    _fetch(message)
    # then
    assert message.media_status == Message.MediaStatus.FAILED
    assert not message.media_file


def test_a_refused_type_is_not_downloaded(tenant_a: Company, number_a: PhoneNumber, stub: ProviderStub) -> None:
    # given
    stub.media["m-1"] = StubMedia(b"MZ", "application/x-msdownload", announced_size=2)
    message = _received(number_a, kind="document")
    # when
    _fetch(message)
    # then
    assert message.media_status == Message.MediaStatus.FAILED
    assert "not accepted" in message.error_detail
    assert len(stub.requests) == 1


def test_unknown_media_id_fails_the_media_only(tenant_a: Company, number_a: PhoneNumber, stub: ProviderStub) -> None:
    # given
    message = _received(number_a, media_id="gone")
    # when
    _fetch(message)
    # then
    assert message.media_status == Message.MediaStatus.FAILED
    assert Message.objects.filter(pk=message.pk).exists()


def test_sandbox_serves_sample_files_offline(tenant_a: Company, number_a: PhoneNumber) -> None:
    # given: no WHATSAPP_API_BASE, so the sandbox answers
    image = _received(number_a, media_id="sandbox-image-1")
    document = _received(number_a, kind="document", media_id="sandbox-document-1")
    # when
    _fetch(image)
    _fetch(document)
    # then
    assert (image.media_status, image.media_mime_type) == (Message.MediaStatus.READY, "image/png")
    assert (document.media_status, document.media_mime_type) == (Message.MediaStatus.READY, "application/pdf")
    with document.media_file.open("rb") as fh:
        assert fh.read().startswith(b"%PDF-")
