"""media_uploads_purge_task: media uploads past MEDIA_UPLOAD_RETENTION_HOURS go, files first;
messages sent with them keep their own copies."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from inbox import tasks
from inbox.models import MediaUpload, Message
from inbox.tests.api_helpers import post_json
from inbox.tests.factories import ThreadFactory
from inbox.tests.media_samples import PDF, PNG
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]


def _upload(client: Client, content: bytes, name: str) -> str:
    response = client.post("/api/v1/uploads/", {"file": SimpleUploadedFile(name, content)})
    assert response.status_code == 201, response.content
    return str(response.json()["id"])


def _age(public_id: str, hours: float) -> None:
    MediaUpload.objects.filter(public_id=public_id).update(created_at=timezone.now() - timedelta(hours=hours))


def test_old_uploads_are_deleted_with_their_files_and_sent_messages_keep_theirs(
    company_a: Company, api_a: Client, in_a: InA
) -> None:
    # given: an old upload sent as a message, an old one never sent, a recent one
    with in_a():
        thread = ThreadFactory(window_open=True)
    sent_id = _upload(api_a, PNG, "receipt.png")
    unsent_id = _upload(api_a, PDF, "invoice.pdf")
    recent_id = _upload(api_a, PDF, "menu.pdf")
    body = {"thread": str(thread.public_id), "type": "image", "media": {"upload_id": sent_id}}
    sent = post_json(api_a, "/api/v1/messages/", body).json()
    with in_a():
        _age(sent_id, 25)
        _age(unsent_id, 24.5)
        _age(recent_id, 23)
        old_files = [u.file.name for u in MediaUpload.objects.filter(public_id__in=[sent_id, unsent_id])]
        # when
        tasks.media_uploads_purge_task.run()
        # then
        assert [str(u.public_id) for u in MediaUpload.objects.all()] == [recent_id]
        assert not any(default_storage.exists(name) for name in old_files)
        assert default_storage.exists(MediaUpload.objects.get(public_id=recent_id).file.name)
        message = Message.objects.get(public_id=sent["id"])
        with message.media_file.open("rb") as copy:
            assert copy.read() == PNG
    # and the message still reads and sends as before
    detail = api_a.get(f"/api/v1/messages/{sent['id']}/").json()
    assert sent["media"]["url"]
    assert detail["media"]["url"] == sent["media"]["url"]
    with in_a():
        tasks.message_deliver_task.run(message.pk)
        message.refresh_from_db()
        assert message.status == Message.Status.SENT


def test_the_retention_is_a_setting(company_a: Company, api_a: Client, in_a: InA, settings: Any) -> None:
    # given
    settings.MEDIA_UPLOAD_RETENTION_HOURS = 1
    old = _upload(api_a, PNG, "a.png")
    fresh = _upload(api_a, PNG, "b.png")
    with in_a():
        _age(old, 2)
        _age(fresh, 0.5)
        # when
        tasks.media_uploads_purge_task.run()
        # then
        assert [str(u.public_id) for u in MediaUpload.objects.all()] == [fresh]


def test_a_file_already_gone_does_not_stop_the_purge(company_a: Company, api_a: Client, in_a: InA) -> None:
    # given
    upload_id = _upload(api_a, PNG, "a.png")
    with in_a():
        _age(upload_id, 48)
        default_storage.delete(MediaUpload.objects.get(public_id=upload_id).file.name)
        # when
        tasks.media_uploads_purge_task.run()
        # then
        assert not MediaUpload.objects.exists()


def test_beat_runs_the_purge_in_every_company(settings: Any) -> None:
    # then
    entry = settings.CELERY_BEAT_SCHEDULE["media-uploads-purge"]
    assert entry["task"] == "tenants.tasks.companies_fanout_task"
    assert entry["args"] == ["inbox.tasks.media_uploads_purge_task"]
