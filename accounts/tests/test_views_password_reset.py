from __future__ import annotations

import re

from django.core import mail
from django.test import Client

from accounts.models import User
from conftest import Persona

NEW_PASSWORD = "plum-orbit-lantern-93"
LINK = re.compile(r"https?://acme\.localhost(/reset/[^/\s]+/[^/\s]+/)")


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
