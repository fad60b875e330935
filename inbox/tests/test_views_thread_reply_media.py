"""Replying with an image or a document from the thread page (/inbox/threads/<id>/reply/)."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import Persona
from inbox import forms
from inbox.models import Message, Thread
from inbox.services import media
from inbox.tests.factories import ThreadFactory

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.4\n%%EOF\n"


def _url(thread: Thread, suffix: str = "") -> str:
    return f"/inbox/threads/{thread.public_id}/{suffix}"


def _thread(persona: Persona) -> Thread:
    with schema_context(persona.company.schema_name):
        return ThreadFactory(last_message_at=timezone.now(), window_open=True)


def _messages(persona: Persona, thread: Thread) -> list[Message]:
    with schema_context(persona.company.schema_name):
        return list(Message.objects.filter(thread=thread).order_by("id"))


class _Sized(SimpleUploadedFile):
    """An upload that says it is bigger than it is (a real 101 MB body is not needed)."""

    def __init__(self, name: str, content: bytes, size: int) -> None:
        super().__init__(name, content)
        self.size = size


def test_an_image_is_queued_with_its_caption_and_shown_inline(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    upload = SimpleUploadedFile("receipt.png", PNG, content_type="image/png")
    # when
    response = alice_client.post(_url(thread, "reply/"), {"text": "Your receipt", "attachment": upload})
    page = alice_client.get(_url(thread)).content.decode()
    # then
    assert response.status_code == 302
    [message] = _messages(alice, thread)
    assert (message.type, message.text, message.media_mime_type, message.media_filename) == (
        "image",
        "Your receipt",
        "image/png",
        "receipt.png",
    )
    assert message.status == "queued"
    assert f'<img class="media-image" src="{message.media_file.url}" alt="Your receipt"' in page


def test_a_document_is_queued_and_offered_as_a_download(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    upload = SimpleUploadedFile("invoice.pdf", PDF, content_type="application/pdf")
    # when
    response = alice_client.post(_url(thread, "reply/"), {"attachment": upload}, headers={"HX-Request": "true"})
    page = alice_client.get(_url(thread)).content.decode()
    # then
    assert response.status_code == 200
    assert response.content.decode().startswith('<section id="composer"')
    [message] = _messages(alice, thread)
    assert (message.type, message.text, message.media_filename) == ("document", "", "invoice.pdf")
    with schema_context(alice.company.schema_name):
        assert message.media_file.read() == PDF
    assert f'href="{message.media_file.url}" download>Download document: invoice.pdf</a>' in page


def test_a_file_type_the_channel_refuses_is_explained(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    upload = SimpleUploadedFile("setup.exe", b"MZ\x90\x00", content_type="application/octet-stream")
    # when
    response = alice_client.post(_url(thread, "reply/"), {"attachment": upload}, headers={"HX-Request": "true"})
    # then
    html = response.content.decode()
    assert response.status_code == 400
    assert forms.ATTACHMENT_TYPE_REFUSED in html
    assert 'id="attachment-errors"' in html
    assert _messages(alice, thread) == []


def test_an_image_over_the_limit_is_refused_with_its_size() -> None:
    # given
    upload = _Sized("big.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 16, size=media.media_max_bytes("image") + 1)
    form = forms.ReplyForm({"text": ""}, {"attachment": upload})
    # when
    valid = form.is_valid()
    # then
    assert not valid
    assert form.errors["attachment"] == ["big.jpg is too large (16.1 MB): WhatsApp takes images up to 16 MB."]


def test_a_document_may_be_larger_than_an_image() -> None:
    # given: a 20 MB PDF (over the image limit, under the document one)
    upload = _Sized("manual.pdf", PDF, size=20 * media.MB)
    # when
    form = forms.ReplyForm({"text": ""}, {"attachment": upload})
    # then
    assert form.is_valid(), form.errors
    assert form.send_arguments()["type"] == "document"


def test_a_file_named_like_an_image_must_be_one(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    upload = SimpleUploadedFile("photo.jpg", b"<html>not a photo</html>", content_type="image/jpeg")
    # when
    response = alice_client.post(_url(thread, "reply/"), {"attachment": upload})
    # then
    assert response.status_code == 302
    assert _messages(alice, thread) == []
    page = alice_client.get(_url(thread)).content.decode()
    assert "photo.jpg is not a JPEG or PNG image, whatever its name says." in page


def test_a_reply_needs_text_or_a_file(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    # when
    response = alice_client.post(_url(thread, "reply/"), {"text": "  "}, headers={"HX-Request": "true"})
    # then
    assert response.status_code == 400
    assert str(forms.REPLY_EMPTY) in response.content.decode()


def test_a_caption_is_limited_to_what_the_channel_takes(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    upload = SimpleUploadedFile("receipt.png", PNG, content_type="image/png")
    # when
    response = alice_client.post(
        _url(thread, "reply/"), {"text": "x" * 1025, "attachment": upload}, headers={"HX-Request": "true"}
    )
    # then
    assert response.status_code == 400
    assert "A caption can hold at most 1024 characters." in response.content.decode()
    assert _messages(alice, thread) == []


def test_the_composer_offers_a_file_input_with_the_accepted_types(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    # when
    html = alice_client.get(_url(thread)).content.decode()
    # then
    assert 'enctype="multipart/form-data"' in html
    assert f'<input type="file" id="reply-attachment" name="attachment" accept="{forms.ATTACHMENT_ACCEPT}"' in html
    assert "documents up to 100 MB" in html


def test_charlie_gets_404_when_attaching_to_a_thread_of_company_a(alice: Persona, charlie_client: Client) -> None:
    # given
    thread = _thread(alice)
    upload = SimpleUploadedFile("invoice.pdf", PDF, content_type="application/pdf")
    # when
    response = charlie_client.post(_url(thread, "reply/"), {"attachment": upload})
    # then
    assert response.status_code == 404
    assert _messages(alice, thread) == []
