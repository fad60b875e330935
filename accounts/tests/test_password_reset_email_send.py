"""The reset e-mail leaves the request: the view queues a task, the worker mints the token and sends."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.test import Client, override_settings

from accounts import tasks
from accounts.models import User
from conftest import Persona
from tenants.models import Company

NEW_PASSWORD = "quill-harbor-meadow-57"
LINK = re.compile(r"https://acme\.localhost(/reset/[^/\s]+/[^/\s]+/)")
ATTEMPTS: list[int] = []


class DownMailBackend(BaseEmailBackend):
    """A mail server that cannot be reached."""

    def send_messages(self, email_messages: Any) -> int:
        ATTEMPTS.append(len(email_messages))
        raise ConnectionRefusedError("mail server down")


def _task_run(*args: Any) -> None:
    tasks.password_reset_email_send_task.run(*json.loads(json.dumps(args)))


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    """What the task's on-commit callbacks hand to the broker (recorded instead of sent)."""
    sent: list[list[Any]] = []
    monkeypatch.setattr(tasks.password_reset_email_send_task, "delay", lambda *args: sent.append(list(args)))
    return sent


def test_a_known_address_queues_one_task_without_the_token(
    client_a: Client, alice: Persona, django_capture_on_commit_callbacks: Any, queued: list[list[Any]]
) -> None:
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_a.post("/password-reset/", {"email": "Alice@Acme.test"})
    # then: nothing is sent in the request, one job is queued after commit
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/done/"
    assert mail.outbox == []
    assert len(callbacks) == 1
    callbacks[0]()
    # only what identifies the job: user id, the request's domain and site name, protocol, language
    assert queued == [[alice.user.pk, "acme.localhost", "acme.localhost", False, "en"]]


def test_an_unknown_address_queues_nothing(
    client_a: Client, alice: Persona, django_capture_on_commit_callbacks: Any
) -> None:
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_a.post("/password-reset/", {"email": "nobody@acme.test"})
    # then: the same answer, and no job
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/done/"
    assert callbacks == []
    assert mail.outbox == []


def test_the_queued_language_is_the_profiles_over_the_browsers(
    client_a: Client,
    alice: Persona,
    tenant_a: Company,
    django_capture_on_commit_callbacks: Any,
    queued: list[list[Any]],
) -> None:
    # given
    User.objects.filter(pk=alice.user.pk).update(language="de")
    # when
    with django_capture_on_commit_callbacks(execute=True):
        client_a.post("/password-reset/", {"email": "alice@acme.test"}, HTTP_ACCEPT_LANGUAGE="en")
    # then
    assert [args[-1] for args in queued] == ["de"]


def test_a_deactivated_account_queues_nothing(
    client_a: Client, alice: Persona, tenant_a: Company, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    User.objects.filter(pk=alice.user.pk).update(is_active=False)
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        response = client_a.post("/password-reset/", {"email": "alice@acme.test"})
    # then
    assert response.status_code == 302
    assert callbacks == []


def test_task_mails_a_link_that_sets_a_new_password(client_a: Client, alice: Persona, tenant_a: Company) -> None:
    # given the job as the view queued it
    _task_run(alice.user.pk, "acme.localhost", "acme.localhost", False, "en")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    match = LINK.search(message.body)
    assert match is not None
    assert message.to == ["alice@acme.test"]
    assert "Acme Pizza" in message.subject
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert match.group(1) in str(html)
    # when the link is followed and a new password chosen
    confirm = client_a.get(match.group(1), follow=True)
    form_path = confirm.redirect_chain[-1][0]
    done = client_a.post(form_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    # then
    assert confirm.context["validlink"] is True
    assert done.status_code == 302
    assert done["Location"] == "/reset/done/"
    assert client_a.post("/login/", {"username": "alice@acme.test", "password": alice.password}).status_code == 200
    assert client_a.post("/login/", {"username": "alice@acme.test", "password": NEW_PASSWORD}).status_code == 302


def test_task_mail_speaks_the_queued_language(alice: Persona, tenant_a: Company) -> None:
    # when
    _task_run(alice.user.pk, "acme.localhost", "acme.localhost", False, "de")
    # then
    message = mail.outbox[0]
    assert "zurücksetzen" in message.subject
    assert "Öffnen Sie diesen Link" in message.body


def test_task_sends_nothing_to_an_account_that_can_no_longer_reset(alice: Persona, tenant_a: Company) -> None:
    # given an account deactivated after the request, and one deleted
    User.objects.filter(pk=alice.user.pk).update(is_active=False)
    # when
    _task_run(alice.user.pk, "acme.localhost", "acme.localhost", False, "en")
    _task_run(10**9, "acme.localhost", "acme.localhost", False, "en")
    # then
    assert mail.outbox == []


@override_settings(EMAIL_BACKEND=f"{__name__}.DownMailBackend")
def test_task_retries_when_the_mail_server_is_down(alice: Persona, tenant_a: Company) -> None:
    # given
    ATTEMPTS.clear()
    # when the job runs eagerly (a retry runs again at once, up to max_retries)
    result = tasks.password_reset_email_send_task.apply(
        args=[alice.user.pk, "acme.localhost", "acme.localhost", False, "en"]
    )
    # then Django's swallowed error reached the task, which tried 1 + max_retries times
    assert isinstance(result.result, ConnectionRefusedError)
    assert len(ATTEMPTS) == 1 + tasks.password_reset_email_send_task.max_retries
    assert mail.outbox == []
