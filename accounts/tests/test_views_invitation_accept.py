from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import InvitationFactory, UserFactory
from conftest import PASSWORD
from tenants.models import Company

TOKEN = "a-known-invitation-token"
URL = f"/invite/{TOKEN}/"
FORM = {"name": "Dora", "password1": PASSWORD, "password2": PASSWORD}


def test_accepting_creates_the_agent_with_the_invited_role(client_a: Client, tenant_a: Company) -> None:
    # given
    invitation = InvitationFactory(token=TOKEN, email="dora@acme.test", role=User.Role.AGENT)
    # when
    response = client_a.post(URL, FORM)
    # then
    assert response.status_code == 302
    assert response["Location"] == "/"
    dora = User.objects.get(email="dora@acme.test")
    assert dora.role == User.Role.AGENT
    assert client_a.session["_auth_user_id"] == str(dora.pk)
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None


def test_expired_link_is_refused_and_creates_nothing(client_a: Client, tenant_a: Company) -> None:
    # given
    InvitationFactory(token=TOKEN, email="late@acme.test", expires_at=timezone.now() - timedelta(minutes=1))
    # when
    page = client_a.get(URL)
    submit = client_a.post(URL, FORM)
    # then
    assert page.status_code == 410
    assert "expired" in page.content.decode()
    assert submit.status_code == 410
    assert not User.objects.filter(email="late@acme.test").exists()


def test_used_link_is_refused(client_a: Client, tenant_a: Company) -> None:
    # given
    InvitationFactory(token=TOKEN, accepted_at=timezone.now())
    # when
    response = client_a.post(URL, FORM)
    # then
    assert response.status_code == 410
    assert "already been used" in response.content.decode()


def test_second_submit_of_the_same_link_is_refused(client_a: Client, tenant_a: Company) -> None:
    # given
    InvitationFactory(token=TOKEN, email="dora@acme.test")
    client_a.post(URL, FORM)
    # when
    response = Client(HTTP_HOST="acme.localhost").post(URL, FORM)
    # then
    assert response.status_code == 410
    assert User.objects.filter(email="dora@acme.test").count() == 1


def test_unknown_link_is_404(client_a: Client, tenant_a: Company) -> None:
    # when
    response = client_a.get("/invite/no-such-token/")
    # then
    assert response.status_code == 404
    assert "not valid" in response.content.decode()


def test_link_of_one_company_is_unknown_on_another(client_b: Client, tenant_a: Company) -> None:
    # given
    InvitationFactory(token=TOKEN)
    # when
    response = client_b.get(URL)
    # then
    assert response.status_code == 404


def test_weak_password_is_refused_with_a_reason(client_a: Client, tenant_a: Company) -> None:
    # given
    InvitationFactory(token=TOKEN, email="dora@acme.test")
    # when
    response = client_a.post(URL, {"name": "Dora", "password1": "12345678", "password2": "12345678"})
    # then
    assert response.status_code == 400
    assert "too short" in response.content.decode()
    assert not User.objects.filter(email="dora@acme.test").exists()


def test_mismatched_passwords_are_refused(client_a: Client, tenant_a: Company) -> None:
    # given
    InvitationFactory(token=TOKEN, email="dora@acme.test")
    # when
    response = client_a.post(URL, {"name": "Dora", "password1": PASSWORD, "password2": PASSWORD + "x"})
    # then
    assert response.status_code == 400
    assert "differ" in response.content.decode()


def test_email_taken_meanwhile_is_refused(client_a: Client, tenant_a: Company) -> None:
    # given
    InvitationFactory(token=TOKEN, email="dora@acme.test")
    UserFactory(email="dora@acme.test")
    # when
    response = client_a.post(URL, FORM)
    # then
    assert response.status_code == 410
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email="dora@acme.test").count() == 1
