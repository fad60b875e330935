"""A reset asked for through the page reaches the mailbox through a real Celery worker."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from email import message_from_string
from pathlib import Path

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.db import connection
from django.test import Client
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django_tenants.utils import schema_context

from accounts.models import User
from config.tests.workers import worker_start, worker_stop
from conftest import Persona

LINK = re.compile(r"https://acme\.localhost/reset/([^/\s]+)/([^/\s]+)/")


@pytest.fixture
def mail_dir(tmp_path: Path, personas: object) -> Iterator[Path]:
    """A `celery worker` on this session's queues and test database; yields its mail folder."""
    folder = tmp_path / "mail"
    process = worker_start(
        tmp_path / "worker.log",
        env={"TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(folder)},
    )
    try:
        yield folder
    finally:
        worker_stop(process)


@pytest.fixture
def committed_db(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    """Autocommit, so the request's on-commit enqueue happens and the worker sees the rows."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        connection.set_schema_to_public()
        yield
        connection.set_schema_to_public()


def _mails(folder: Path, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*.log")) if folder.exists() else []
        if files:
            time.sleep(0.2)  # let the backend finish writing
            return [f.read_text() for f in files]
        time.sleep(0.1)
    return []


@pytest.mark.worker
def test_a_reset_asked_for_on_the_page_arrives_from_the_worker(
    committed_db: None, personas: dict[str, Persona], mail_dir: Path
) -> None:
    # given
    alice = personas["alice"]
    client = Client(HTTP_HOST=alice.host)
    # when
    response = client.post("/password-reset/", {"email": "alice@acme.test"})
    mails = _mails(mail_dir)
    # then: the page answered at once, the worker sent the link to A's host
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/done/"
    assert len(mails) == 1, (mail_dir.parent / "worker.log").read_text()
    message = message_from_string(mails[0].split("\n-------", 1)[0])
    assert message["To"] == "alice@acme.test"
    assert "Acme Pizza" in message["Subject"]
    match = LINK.search(mails[0])
    assert match is not None
    # and the token the worker made is valid for alice
    with schema_context(alice.company.schema_name):
        user = User.objects.get(pk=force_str(urlsafe_base64_decode(match.group(1))))
        assert user.email == "alice@acme.test"
        assert default_token_generator.check_token(user, match.group(2))
