"""A reset asked for through the page reaches the mailbox through a real Celery worker."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email import message_from_string
from pathlib import Path

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django_tenants.utils import schema_context

from accounts.models import User
from config.tests.workers import mail_worker, mails_wait
from conftest import Persona
from inbox.tests.browser import committed_db  # noqa: F401 - fixture

LINK = re.compile(r"https://acme\.localhost/reset/([^/\s]+)/([^/\s]+)/")


@pytest.fixture
def mail_dir(tmp_path: Path, personas: object) -> Iterator[Path]:
    with mail_worker(tmp_path) as folder:
        yield folder


@pytest.mark.worker
def test_a_reset_asked_for_on_the_page_arrives_from_the_worker(
    committed_db: None,  # noqa: F811
    personas: dict[str, Persona],
    mail_dir: Path,
) -> None:
    # given
    alice = personas["alice"]
    client = Client(HTTP_HOST=alice.host)
    # when
    response = client.post("/password-reset/", {"email": "alice@acme.test"})
    mails = mails_wait(mail_dir)
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
