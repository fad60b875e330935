from __future__ import annotations

import json
import re

from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape
from django_tenants.utils import schema_context

from accounts import tasks
from accounts.models import Invitation, User
from accounts.services import CANNOT_DEACTIVATE_SELF, INVITE_ALREADY_MEMBER, OWNER_NEEDS_OWNER
from accounts.tests.factories import InvitationFactory, UserFactory
from conftest import PASSWORD, Persona, login_client
from tenants.models import Company


def test_settings_redirects_to_team(alice_client: Client) -> None:
    # when
    response = alice_client.get("/settings/")
    # then
    assert response.status_code == 302
    assert response["Location"] == "/settings/team/"


def test_team_lists_agents_and_pending_invitations(alice_client: Client, tenant_a: Company) -> None:
    # given
    InvitationFactory(email="dora@acme.test", role=User.Role.ADMIN)
    InvitationFactory(email="old@acme.test", expires_at=timezone.now())
    # when
    response = alice_client.get("/settings/team/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Alice Owner" in html
    assert "Bob Agent" in html
    assert "dora@acme.test" in html
    assert "old@acme.test" not in html
    assert 'for="id_email"' in html
    assert 'for="id_role"' in html


def test_team_page_escapes_agent_names(alice_client: Client, tenant_a: Company) -> None:
    # given
    UserFactory(name="<script>alert(1)</script>")
    # when
    response = alice_client.get("/settings/team/")
    # then
    html = response.content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_team_page_queries_do_not_grow_with_rows(alice_client: Client, alice: Persona, tenant_a: Company) -> None:
    # given
    InvitationFactory(invited_by=alice.user)
    with CaptureQueriesContext(connection) as few:
        alice_client.get("/settings/team/")
    UserFactory.create_batch(5)
    InvitationFactory.create_batch(5, invited_by=alice.user)
    # when
    with CaptureQueriesContext(connection) as many:
        response = alice_client.get("/settings/team/")
    # then
    assert response.status_code == 200
    assert len(many) == len(few)


def test_agent_gets_a_readable_403_on_team_pages(bob_client: Client, alice: Persona) -> None:
    # when
    responses = [
        bob_client.get("/settings/team/"),
        bob_client.get("/settings/api-keys/"),
        bob_client.post("/settings/team/invite/", {"email": "x@acme.test", "role": "agent"}),
        bob_client.post(f"/settings/team/{alice.user.public_id}/deactivate/"),
    ]
    # then
    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert "Only owners and admins" in responses[0].content.decode()


def test_anonymous_is_sent_to_login(client_a: Client) -> None:
    # when
    response = client_a.get("/settings/team/")
    # then
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/settings/team/"


def test_invite_flow_end_to_end(
    alice_client: Client, client_a: Client, tenant_a: Company, django_capture_on_commit_callbacks: object
) -> None:
    # given
    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # type: ignore[operator]
        response = alice_client.post("/settings/team/invite/", {"email": " Dora@Acme.test ", "role": "admin"})
    invitation = Invitation.objects.get(email="dora@acme.test")
    assert response.status_code == 302
    assert len(callbacks) == 1
    assert mail.outbox == []
    # when
    tasks.invitation_email_send_task.run(*json.loads(json.dumps([invitation.pk])))
    # then
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["dora@acme.test"]
    assert message.reply_to == ["alice@acme.test"]
    assert "Acme Pizza" in message.subject
    match = re.search(r"https://acme\.localhost(/invite/[\w-]+/)", message.body)
    assert match is not None
    assert match.group(0) in str(message.alternatives[0][0])
    page = client_a.get(match.group(1))
    assert page.status_code == 200
    assert "dora@acme.test" in page.content.decode()
    accepted = client_a.post(match.group(1), {"name": "Dora Admin", "password1": PASSWORD, "password2": PASSWORD})
    assert accepted.status_code == 302
    assert accepted["Location"] == "/"
    home = client_a.get("/")
    assert home.status_code == 200
    assert "Admin" in home.content.decode()
    dora = User.objects.get(email="dora@acme.test")
    assert dora.role == User.Role.ADMIN
    assert dora.name == "Dora Admin"
    assert dora.password.startswith("argon2")
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None


def test_invite_refuses_an_active_member(alice_client: Client, tenant_a: Company) -> None:
    # when
    response = alice_client.post("/settings/team/invite/", {"email": "BOB@acme.test", "role": "agent"})
    # then
    assert response.status_code == 400
    assert str(escape(INVITE_ALREADY_MEMBER)) in response.content.decode()
    assert not Invitation.objects.filter(email="bob@acme.test").exists()


def test_invite_refuses_a_malformed_email(alice_client: Client, tenant_a: Company) -> None:
    # when
    response = alice_client.post("/settings/team/invite/", {"email": "not-an-address", "role": "agent"})
    # then
    assert response.status_code == 400
    assert not Invitation.objects.exists()


def test_admin_may_not_invite_an_owner(tenant_a: Company) -> None:
    # given
    admin = login_client_for(UserFactory(role=User.Role.ADMIN), tenant_a)
    # when
    response = admin.post("/settings/team/invite/", {"email": "boss@acme.test", "role": "owner"})
    # then
    assert response.status_code == 400
    assert not Invitation.objects.filter(email="boss@acme.test").exists()


def test_reinviting_withdraws_the_earlier_invitation(alice_client: Client, tenant_a: Company) -> None:
    # given
    earlier = InvitationFactory(email="dora@acme.test")
    # when
    alice_client.post("/settings/team/invite/", {"email": "dora@acme.test", "role": "agent"})
    # then
    earlier.refresh_from_db()
    assert earlier.revoked_at is not None
    assert Invitation.objects.filter(email="dora@acme.test", revoked_at__isnull=True).count() == 1


def test_revoking_an_invitation_voids_its_link(alice_client: Client, client_a: Client, tenant_a: Company) -> None:
    # given
    invitation = InvitationFactory(token="revoked-token-value")
    # when
    response = alice_client.post(f"/settings/team/invitations/{invitation.public_id}/revoke/")
    # then
    assert response.status_code == 302
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert client_a.get("/invite/revoked-token-value/").status_code == 410


def test_revoking_twice_says_it_is_no_longer_pending(alice_client: Client, tenant_a: Company) -> None:
    # given
    invitation = InvitationFactory(revoked_at=timezone.now())
    # when
    response = alice_client.post(f"/settings/team/invitations/{invitation.public_id}/revoke/", follow=True)
    # then
    assert "already accepted, withdrawn or has expired" in response.content.decode()


def test_charlie_gets_404_for_acme_invitations(charlie_client: Client, tenant_a: Company) -> None:
    # given
    invitation = InvitationFactory()
    # when
    response = charlie_client.post(f"/settings/team/invitations/{invitation.public_id}/revoke/")
    # then
    assert response.status_code == 404


def test_deactivated_agent_session_stops_working(alice_client: Client, bob_client: Client, bob: Persona) -> None:
    # given
    assert bob_client.get("/").status_code == 200
    # when
    response = alice_client.post(f"/settings/team/{bob.user.public_id}/deactivate/")
    # then
    assert response.status_code == 302
    after = bob_client.get("/")
    assert after.status_code == 302
    assert after["Location"].startswith("/login/")
    member = User.objects.get(pk=bob.user.pk)
    assert member.is_active is False
    assert member.deactivated_at is not None
    assert bob_client.post("/login/", {"username": "bob@acme.test", "password": bob.password}).status_code == 200


def test_reactivated_agent_can_log_in_again(alice_client: Client, client_a: Client, tenant_a: Company) -> None:
    # given
    member = UserFactory(email="gone@acme.test", is_active=False, deactivated_at=timezone.now())
    # when
    response = alice_client.post(f"/settings/team/{member.public_id}/reactivate/")
    # then
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.is_active is True
    assert member.deactivated_at is None
    assert client_a.post("/login/", {"username": "gone@acme.test", "password": PASSWORD}).status_code == 302


def test_owner_cannot_deactivate_herself(alice_client: Client, alice: Persona, tenant_a: Company) -> None:
    # when
    response = alice_client.post(f"/settings/team/{alice.user.public_id}/deactivate/", follow=True)
    # then
    assert str(escape(CANNOT_DEACTIVATE_SELF)) in response.content.decode()
    assert User.objects.get(pk=alice.user.pk).is_active is True


def test_admin_cannot_deactivate_an_owner(alice: Persona, tenant_a: Company) -> None:
    # given
    admin = login_client_for(UserFactory(role=User.Role.ADMIN), tenant_a)
    # when
    response = admin.post(f"/settings/team/{alice.user.public_id}/deactivate/", follow=True)
    # then
    assert str(escape(OWNER_NEEDS_OWNER)) in response.content.decode()
    assert User.objects.get(pk=alice.user.pk).is_active is True


def test_admin_can_deactivate_an_agent(bob: Persona, tenant_a: Company) -> None:
    # given
    admin = login_client_for(UserFactory(role=User.Role.ADMIN), tenant_a)
    # when
    response = admin.post(f"/settings/team/{bob.user.public_id}/deactivate/")
    # then
    assert response.status_code == 302
    assert User.objects.get(pk=bob.user.pk).is_active is False


def test_charlie_gets_404_for_acme_agents(charlie_client: Client, bob: Persona, tenant_a: Company) -> None:
    # when
    deactivate = charlie_client.post(f"/settings/team/{bob.user.public_id}/deactivate/")
    reactivate = charlie_client.post(f"/settings/team/{bob.user.public_id}/reactivate/")
    # then
    assert deactivate.status_code == 404
    assert reactivate.status_code == 404
    with schema_context(tenant_a.schema_name):
        assert User.objects.get(pk=bob.user.pk).is_active is True


def test_state_changes_need_post(alice_client: Client, bob: Persona) -> None:
    # when
    response = alice_client.get(f"/settings/team/{bob.user.public_id}/deactivate/")
    # then
    assert response.status_code == 405


def login_client_for(user: User, company: Company) -> Client:
    return login_client(Persona(user, company))
