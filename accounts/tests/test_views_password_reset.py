from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client, override_settings
from django_tenants.utils import schema_context

from accounts import tasks
from accounts.models import User
from conftest import Persona

NEW_PASSWORD = "plum-orbit-lantern-93"
LINK = re.compile(r"https?://acme\.localhost(/reset/[^/\s]+/[^/\s]+/)")


@pytest.fixture(autouse=True)
def _reset_mail_sent_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The queued reset e-mail is sent at once, as a worker would send it: in the sender's
    schema, with the arguments after the broker's JSON round trip (the queueing itself is
    tested in test_password_reset_email_send.py)."""
    task = tasks.password_reset_email_send_task

    def run_now(*args: Any) -> None:
        with schema_context(connection.schema_name):
            task.run(*json.loads(json.dumps(args)))

    monkeypatch.setattr(task, "delay_on_commit", run_now)


def test_sends_a_link_on_the_company_host(client_a: Client, alice: Persona) -> None:
    # when
    response = client_a.post("/password-reset/", {"email": "Alice@Acme.test"})
    # then
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/done/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@acme.test"]
    assert "Acme Pizza" in message.subject
    assert LINK.search(message.body)
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert LINK.search(str(html))


def test_reset_link_sets_a_new_password(client_a: Client, alice: Persona, tenant_a: object) -> None:
    # given
    client_a.post("/password-reset/", {"email": "alice@acme.test"})
    match = LINK.search(mail.outbox[0].body)
    assert match is not None
    # when
    confirm = client_a.get(match.group(1), follow=True)
    form_path = confirm.redirect_chain[-1][0]
    done = client_a.post(form_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    # then
    assert confirm.status_code == 200
    assert confirm.context["validlink"] is True
    assert done.status_code == 302
    assert done["Location"] == "/reset/done/"
    assert client_a.get("/reset/done/").status_code == 200
    assert client_a.post("/login/", {"username": "alice@acme.test", "password": alice.password}).status_code == 200
    assert client_a.post("/login/", {"username": "alice@acme.test", "password": NEW_PASSWORD}).status_code == 302
    assert User.objects.get(email="alice@acme.test").password.startswith("argon2")


def test_reset_link_works_only_once(client_a: Client, alice: Persona) -> None:
    # given
    client_a.post("/password-reset/", {"email": "alice@acme.test"})
    match = LINK.search(mail.outbox[0].body)
    assert match is not None
    form_path = client_a.get(match.group(1), follow=True).redirect_chain[-1][0]
    client_a.post(form_path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    # when
    response = client_a.get(match.group(1), follow=True)
    # then
    assert response.context["validlink"] is False
    assert "does not work" in response.content.decode()


def test_unknown_address_gets_the_same_answer_and_no_mail(client_a: Client) -> None:
    # when
    response = client_a.post("/password-reset/", {"email": "nobody@acme.test"})
    # then
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/done/"
    assert mail.outbox == []


def test_another_companys_agent_gets_no_mail(client_b: Client, alice: Persona) -> None:
    # when
    client_b.post("/password-reset/", {"email": "alice@acme.test"})
    # then
    assert mail.outbox == []


def test_reset_pages_render(client_a: Client) -> None:
    # when
    form = client_a.get("/password-reset/")
    done = client_a.get("/password-reset/done/")
    # then
    assert form.status_code == 200
    assert 'for="id_email"' in form.content.decode()
    assert done.status_code == 200


# --- rate limit -------------------------------------------------------------------------------

TOO_MANY = "Too many requests for a new password. Try again in 60 minutes."


def _ask(client: Client, email: str, **extra: str) -> Any:
    return client.post("/password-reset/", {"email": email}, **extra)


def test_fourth_request_for_an_address_within_the_hour_is_refused(client_a: Client, alice: Persona) -> None:
    # given three requests, each sending a link
    for _ in range(3):
        assert _ask(client_a, "alice@acme.test")["Location"] == "/password-reset/done/"
    assert len(mail.outbox) == 3
    # when
    response = _ask(client_a, "alice@acme.test")
    # then a readable refusal, and no fourth mail
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert TOO_MANY in response.content.decode()
    assert 'for="id_email"' in response.content.decode()
    assert len(mail.outbox) == 3


def test_an_unknown_address_is_answered_exactly_like_a_known_one(client_a: Client, alice: Persona) -> None:
    # when the same four requests go to an address with an account and to one without
    known = [_ask(client_a, "alice@acme.test") for _ in range(4)]
    unknown = [_ask(client_a, "nobody@acme.test") for _ in range(4)]
    # then the answers are the same, request by request: the limit tells nothing either
    assert [r.status_code for r in known] == [r.status_code for r in unknown] == [302, 302, 302, 429]
    assert [r.get("Location") for r in known] == [r.get("Location") for r in unknown]
    assert TOO_MANY in unknown[-1].content.decode()
    assert [m.to for m in mail.outbox] == [["alice@acme.test"]] * 3


def test_the_address_is_counted_in_any_case(client_a: Client, alice: Persona) -> None:
    # given
    for email in ["Alice@acme.test", "ALICE@ACME.TEST", " alice@Acme.test "]:
        _ask(client_a, email)
    # when
    response = _ask(client_a, "alice@acme.test")
    # then
    assert response.status_code == 429


@override_settings(PASSWORD_RESET_IP_LIMIT=3)
def test_client_address_limit_holds_across_addresses(client_a: Client, alice: Persona) -> None:
    # given three addresses asked for from one client
    for n in range(3):
        _ask(client_a, f"nobody{n}@acme.test")
    # when
    blocked = _ask(client_a, "alice@acme.test")
    elsewhere = _ask(Client(HTTP_HOST=alice.host), "alice@acme.test", REMOTE_ADDR="10.9.8.7")
    # then
    assert blocked.status_code == 429
    assert elsewhere.status_code == 302
    assert [m.to for m in mail.outbox] == [["alice@acme.test"]]


@override_settings(PASSWORD_RESET_WINDOW=1)
def test_the_limit_ends_with_its_window(client_a: Client, alice: Persona) -> None:
    # given an address at its limit
    for _ in range(3):
        _ask(client_a, "alice@acme.test")
    assert _ask(client_a, "alice@acme.test").status_code == 429
    # when the window has passed (Redis expires the counter)
    time.sleep(1.2)
    response = _ask(client_a, "alice@acme.test")
    # then
    assert response.status_code == 302
    assert len(mail.outbox) == 4


def test_one_companys_limit_does_not_reach_another(client_a: Client, client_b: Client, charlie: Persona) -> None:
    # given charlie's address at its limit on company A's host
    for _ in range(4):
        _ask(client_a, "charlie@globex.test")
    # when
    response = _ask(client_b, "charlie@globex.test")
    # then
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [["charlie@globex.test"]]


def test_the_refusal_reads_in_german(client_a: Client, alice: Persona) -> None:
    # given
    for _ in range(3):
        _ask(client_a, "alice@acme.test")
    # when
    response = _ask(client_a, "alice@acme.test", HTTP_ACCEPT_LANGUAGE="de")
    # then
    assert response.status_code == 429
    assert "Zu viele Anfragen für ein neues Passwort. Versuchen Sie es in 60 Minuten erneut." in (
        response.content.decode()
    )
