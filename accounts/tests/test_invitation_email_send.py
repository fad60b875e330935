from __future__ import annotations

import json
import re
from datetime import timedelta

from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts import services, tasks
from accounts.models import Invitation, User
from accounts.tests.factories import InvitationFactory, UserFactory
from conftest import Persona
from tenants.models import Company

LINK = re.compile(r"https://acme\.localhost(/invite/[\w-]+/)")


def _task_run(invitation_id: int) -> None:
    tasks.invitation_email_send_task.run(*json.loads(json.dumps([invitation_id])))


def test_create_enqueues_the_mail_after_commit(
    alice: Persona, tenant_a: Company, django_capture_on_commit_callbacks: object
) -> None:
    # when
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        invitation = services.invitation_create(actor=alice.user, email="Dora@Acme.test", role=User.Role.AGENT)
    # then
    assert len(callbacks) == 1
    assert invitation.email == "dora@acme.test"
    assert invitation.invited_by == alice.user
    assert invitation.expires_at > timezone.now() + timedelta(hours=71)
    assert mail.outbox == []


def test_task_mails_a_link_whose_token_is_stored_only_as_a_hash(alice: Persona, tenant_a: Company) -> None:
    # given
    invitation = InvitationFactory(email="dora@acme.test", invited_by=alice.user)
    # when
    _task_run(invitation.pk)
    # then
    assert len(mail.outbox) == 1
    match = LINK.search(mail.outbox[0].body)
    assert match is not None
    token = match.group(1).split("/")[2]
    stored = Invitation.objects.get(pk=invitation.pk).token_hash
    assert token not in stored
    assert services._sha256(token) == stored


def test_task_sends_nothing_for_an_invitation_no_longer_pending(tenant_a: Company) -> None:
    # given
    revoked = InvitationFactory(revoked_at=timezone.now())
    accepted = InvitationFactory(accepted_at=timezone.now())
    expired = InvitationFactory(expires_at=timezone.now() - timedelta(seconds=1))
    # when
    for invitation in (revoked, accepted, expired):
        _task_run(invitation.pk)
    _task_run(10**9)
    # then
    assert mail.outbox == []


def test_a_repeated_send_voids_the_older_link(client_a: Client, tenant_a: Company) -> None:
    # given
    invitation = InvitationFactory(email="dora@acme.test")
    _task_run(invitation.pk)
    _task_run(invitation.pk)
    first, second = (LINK.search(message.body) for message in mail.outbox)
    assert first is not None
    assert second is not None
    # when
    old = client_a.get(first.group(1))
    new = client_a.get(second.group(1))
    # then
    assert old.status_code == 404
    assert new.status_code == 200


def test_mail_escapes_the_inviters_name_in_html(tenant_a: Company) -> None:
    # given
    inviter = UserFactory(name="<b>Eve</b>", role=User.Role.OWNER)
    invitation = InvitationFactory(invited_by=inviter)
    # when
    _task_run(invitation.pk)
    # then
    html = str(mail.outbox[0].alternatives[0][0])
    assert "<b>Eve</b>" not in html
    assert "&lt;b&gt;Eve&lt;/b&gt;" in html
