"""Suspension: web and API answer 403 with a clear message; inbound messages are still stored."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django_tenants.utils import schema_context

from accounts.services import api_key_create
from conftest import Persona
from inbox.models import Message
from inbox.providers.sandbox import envelope_build, text_message_item
from inbox.tests.webhook_payloads import CUSTOMER, DISPLAY_A, NUMBER_A, connect, post_and_process
from tenants import operator
from tenants.models import Company, OperatorAction
from tenants.tests.factories import OperatorFactory


def test_suspension_is_audited_with_before_and_after(company_a: Company) -> None:
    # given
    ops = OperatorFactory()
    # when
    operator.company_suspend(company=company_a, actor=ops, reason="Chargebacks")
    # then
    company_a = Company.objects.get(pk=company_a.pk)
    assert company_a.status == Company.Status.SUSPENDED
    assert company_a.suspended_reason == "Chargebacks"
    row = OperatorAction.objects.get(action="company.suspend")
    assert (row.actor, row.company, row.target) == (ops, company_a, "acme")
    assert row.before == {"status": "active", "suspended_reason": ""}
    assert row.after == {"status": "suspended", "suspended_reason": "Chargebacks"}


def test_suspension_needs_a_reason(company_a: Company) -> None:
    with pytest.raises(ValidationError):
        operator.company_suspend(company=company_a, actor=None, reason=" ")
    company_a = Company.objects.get(pk=company_a.pk)
    assert company_a.status == Company.Status.ACTIVE


def test_suspending_twice_or_lifting_an_active_company_is_refused(company_a: Company) -> None:
    with pytest.raises(operator.OperatorActionError):
        operator.company_unsuspend(company=company_a, actor=None)
    operator.company_suspend(company=company_a, actor=None, reason="x")
    with pytest.raises(operator.OperatorActionError):
        operator.company_suspend(company=company_a, actor=None, reason="x")
    assert OperatorAction.objects.filter(company=company_a).count() == 1


def test_suspended_company_pages_login_and_api_answer_403(alice: Persona, alice_client: Client) -> None:
    # given
    with schema_context(alice.company.schema_name):
        key = api_key_create(name="crm", created_by=alice.user)
    operator.company_suspend(company=alice.company, actor=None, reason="Unpaid invoices")
    anonymous = Client(HTTP_HOST=alice.host)
    # when
    inbox = alice_client.get("/inbox/")
    login = anonymous.get("/login/")
    api = Client(HTTP_HOST=alice.host, HTTP_AUTHORIZATION=f"Bearer {key.key}").get("/api/v1/me")
    # then
    assert inbox.status_code == 403
    assert login.status_code == 403
    assert "suspended" in login.content.decode()
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "company_suspended"


def test_lifting_the_suspension_opens_the_pages_again(alice: Persona, alice_client: Client) -> None:
    # given
    operator.company_suspend(company=alice.company, actor=None, reason="x")
    # when
    operator.company_unsuspend(company=alice.company, actor=None, reason="paid")
    # then
    assert alice_client.get("/inbox/").status_code == 200
    row = OperatorAction.objects.get(action="company.unsuspend")
    assert row.after == {"status": "active", "suspended_reason": "", "reason": "paid"}


def test_inbound_messages_of_a_suspended_company_are_stored(public_client: Client, company_a: Company) -> None:
    # given
    connect(company_a, NUMBER_A, DISPLAY_A)
    operator.company_suspend(company=company_a, actor=None, reason="Abuse report")
    payload = envelope_build(
        phone_number_id=NUMBER_A,
        messages=[text_message_item(sender=CUSTOMER, text="Is my order coming?", wamid="wamid.SUSP1")],
    )
    # when
    event = post_and_process(public_client, payload)
    # then
    assert event.processed_at is not None
    with schema_context(company_a.schema_name):
        stored = Message.objects.get(wamid="wamid.SUSP1")
    assert stored.text == "Is my order coming?"
    assert stored.direction == Message.Direction.INBOUND
