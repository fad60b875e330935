"""Business verification: the state machine, back to review on edits, the sender snapshot."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django_tenants.utils import schema_context

from conftest import Persona
from inbox.models import Message, PhoneNumber, Thread
from inbox.providers.base import message_body
from inbox.services import messages
from inbox.tests.factories import TemplateFactory, ThreadFactory
from inbox.tests.webhook_payloads import DISPLAY_A, NUMBER_A, connect
from tenants import selectors, verification
from tenants.models import BusinessProfile, Company, OperatorAction
from tenants.tests.factories import OperatorFactory
from tenants.tests.identity_helpers import DETAILS, submit, verified

VERIFY_BUTTON = {"type": "url", "text": "Is this really us?", "url": "https://localhost/verify/{{1}}"}


def test_submitting_details_makes_an_unverified_company_pending(company_a: Company) -> None:
    # when
    profile = submit(company_a)
    # then
    assert profile.state == BusinessProfile.State.PENDING
    assert profile.submitted_at is not None
    assert not selectors.company_is_verified(company=company_a)
    assert selectors.company_verified_name(company=company_a) is None


def test_operator_verifies_pending_details_and_the_badge_appears(company_a: Company) -> None:
    # given
    submit(company_a, display_name="Acme Pizza Berlin")
    operator = OperatorFactory()
    # when
    profile = verification.company_verify(company=company_a, actor=operator)
    # then
    assert profile.state == BusinessProfile.State.VERIFIED
    assert profile.verified_display_name == "Acme Pizza Berlin"
    assert profile.decided_by == operator
    assert selectors.company_is_verified(company=company_a)
    assert selectors.company_verified_name(company=company_a) == "Acme Pizza Berlin"
    row = OperatorAction.objects.filter(action="company.verify").get()
    assert row.actor_label == operator.email
    assert row.before["state"] == "pending"
    assert row.after["state"] == "verified"
    assert row.after["verified_display_name"] == "Acme Pizza Berlin"


def test_operator_rejects_with_a_reason_and_the_owner_may_submit_again(company_a: Company) -> None:
    # given
    submit(company_a)
    # when
    rejected = verification.company_verification_reject(company=company_a, actor=None, reason="Register not found")
    again = submit(company_a, registration_number="HRB 54321")
    # then
    assert rejected.state == BusinessProfile.State.REJECTED
    assert rejected.rejection_reason == "Register not found"
    assert again.state == BusinessProfile.State.PENDING
    assert again.rejection_reason == ""


def test_rejection_needs_a_reason_and_changes_nothing_without_one(company_a: Company) -> None:
    # given
    submit(company_a)
    # when
    with pytest.raises(ValidationError):
        verification.company_verification_reject(company=company_a, actor=None, reason="  ")
    # then
    assert BusinessProfile.objects.get(company=company_a).state == BusinessProfile.State.PENDING
    assert not OperatorAction.objects.filter(action="company.verification_reject").exists()


@pytest.mark.parametrize("state_maker", ["none", "verified", "rejected"])
def test_only_pending_details_can_be_decided(company_a: Company, state_maker: str) -> None:
    # given
    if state_maker == "verified":
        verified(company_a)
    elif state_maker == "rejected":
        submit(company_a)
        verification.company_verification_reject(company=company_a, actor=None, reason="no")
    before = OperatorAction.objects.count()
    # when / then
    with pytest.raises(verification.VerificationStateError):
        verification.company_verify(company=company_a, actor=None)
    with pytest.raises(verification.VerificationStateError):
        verification.company_verification_reject(company=company_a, actor=None, reason="x")
    assert OperatorAction.objects.count() == before


def test_changing_the_display_name_of_a_verified_company_withdraws_the_badge(company_a: Company) -> None:
    # given
    verified(company_a)
    # when
    profile = submit(company_a, display_name="Acme Pizza & Pasta")
    # then
    assert profile.state == BusinessProfile.State.PENDING
    assert profile.verified_display_name == ""
    assert not selectors.company_is_verified(company=company_a)
    row = OperatorAction.objects.filter(action="business_profile.submit").first()
    assert row.before["state"] == "verified"
    assert row.after["display_name"] == "Acme Pizza & Pasta"


def test_saving_unchanged_details_keeps_the_badge(company_a: Company) -> None:
    # given
    verified(company_a)
    # when: same details, only the verify-link setting changes
    profile = submit(company_a, verify_links_enabled=True)
    # then
    assert profile.state == BusinessProfile.State.VERIFIED
    assert profile.verify_links_enabled


def test_details_are_validated_per_field(company_a: Company) -> None:
    # when
    with pytest.raises(ValidationError) as caught:
        submit(company_a, legal_name="", website="not a url")
    # then
    assert set(caught.value.message_dict) == {"legal_name", "website"}
    assert not BusinessProfile.objects.filter(company=company_a).exists()


# --- the snapshot on outbound messages -------------------------------------------------------


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


def _send_text(company: Company, number: PhoneNumber, persona: Persona) -> Message:
    with schema_context(company.schema_name):
        thread = ThreadFactory(phone_number=number, window_open=True)
        return messages.message_send(thread=thread, sender=persona.user, type="text", text="Hi")


def test_unverified_company_messages_carry_no_badge(alice: Persona, number_a: PhoneNumber) -> None:
    # when
    message = _send_text(alice.company, number_a, alice)
    # then
    assert message.sender_identity == {"name": "Acme Pizza", "verified": False}


def test_verified_company_messages_carry_the_verified_name_as_sent(alice: Persona, number_a: PhoneNumber) -> None:
    # given
    verified(alice.company, display_name="Acme Pizza Berlin")
    # when
    first = _send_text(alice.company, number_a, alice)
    submit(alice.company, display_name="Totally Acme")  # back to review
    second = _send_text(alice.company, number_a, alice)
    # then: the first keeps what the customer saw then
    with schema_context(alice.company.schema_name):
        first.refresh_from_db()
    assert first.sender_identity == {"name": "Acme Pizza", "verified": True, "verified_name": "Acme Pizza Berlin"}
    assert second.sender_identity == {"name": "Acme Pizza", "verified": False}


def test_broadcast_messages_carry_the_snapshot(alice: Persona, settings: Any) -> None:
    from inbox.models import Broadcast
    from inbox.services import broadcasts
    from inbox.tests.factories_broadcasts import BroadcastFactory, OptedInContactFactory

    # given
    settings.WHATSAPP_API_BASE = ""
    settings.BROADCAST_NUMBER_RATE = 100_000
    verified(alice.company)
    with schema_context(alice.company.schema_name):
        OptedInContactFactory.create_batch(3)
        broadcast = BroadcastFactory()
        broadcasts.broadcast_start(broadcast=broadcast)
        broadcast.refresh_from_db()
        # when
        broadcasts.broadcast_chunk_send(
            broadcast_id=broadcast.pk, lo=broadcast.first_delivery_id, hi=broadcast.last_delivery_id + 1
        )
        # then
        sent = list(Message.objects.filter(direction="outbound", template_name=broadcast.template.name))
        assert Broadcast.objects.get(pk=broadcast.pk).status == Broadcast.Status.COMPLETED
    assert len(sent) == 3
    assert {str(m.sender_identity) for m in sent} == {
        str({"name": "Acme Pizza", "verified": True, "verified_name": "Acme Pizza"})
    }


# --- verify links ------------------------------------------------------------------------------


def test_template_with_a_verify_button_carries_a_signed_link(alice: Persona, number_a: PhoneNumber) -> None:
    # given
    verified(alice.company, verify_links_enabled=True)
    with schema_context(alice.company.schema_name):
        template = TemplateFactory(buttons=[VERIFY_BUTTON])
        thread = ThreadFactory(phone_number=number_a)
        # when
        message = messages.message_send(thread=thread, sender=alice.user, type="template", template=template)
        body = message_body(message)
    # then: the body text is the template's, the link is the button's parameter
    assert message.text == template.body
    expected_start = verification.public_verify_url(query="?phone=%2B493012345601&token=")
    assert message.payload["verify_url"].startswith(expected_start)
    button = body["template"]["components"][-1]
    assert (button["type"], button["sub_type"], button["index"]) == ("button", "url", "0")
    assert button["parameters"][0]["text"] == message.payload["verify_button"]["suffix"]
    query = parse_qs(urlsplit(message.payload["verify_url"]).query)
    assert query["phone"] == [DISPLAY_A]
    assert verification.verify_token_check(token=query["token"][0], company_id=alice.company.pk, phone=DISPLAY_A)


def test_no_link_when_the_company_did_not_turn_links_on(alice: Persona, number_a: PhoneNumber) -> None:
    # given
    verified(alice.company)
    with schema_context(alice.company.schema_name):
        template = TemplateFactory(buttons=[VERIFY_BUTTON])
        thread = ThreadFactory(phone_number=number_a)
        # when
        message = messages.message_send(thread=thread, sender=alice.user, type="template", template=template)
    # then
    assert "verify_url" not in message.payload


def test_token_is_bound_to_company_and_number(company_a: Company, company_b: Company) -> None:
    # given
    token = verification.verify_token_make(company=company_a, phone=DISPLAY_A)
    # then
    assert verification.verify_token_check(token=token, company_id=company_a.pk, phone=DISPLAY_A)
    assert not verification.verify_token_check(token=token, company_id=company_b.pk, phone=DISPLAY_A)
    assert not verification.verify_token_check(token=token, company_id=company_a.pk, phone="+493012345699")
    assert not verification.verify_token_check(token=token[:-2] + "xx", company_id=company_a.pk, phone=DISPLAY_A)
    assert not verification.verify_token_check(token="forged", company_id=company_a.pk, phone=DISPLAY_A)


# --- the inbox shows it ----------------------------------------------------------------------


def test_thread_page_shows_the_badge_on_messages_and_in_the_header(
    alice: Persona, alice_client: Client, number_a: PhoneNumber
) -> None:
    # given
    verified(alice.company, display_name="Acme Pizza Berlin")
    message = _send_text(alice.company, number_a, alice)
    with schema_context(alice.company.schema_name):
        thread = Thread.objects.get(pk=message.thread_id)
    # when
    response = alice_client.get(f"/inbox/threads/{thread.public_id}/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Customers see you as" in html
    assert html.count("✓ Acme Pizza Berlin") >= 2  # header and the message


def test_thread_page_says_unverified(alice: Persona, alice_client: Client, number_a: PhoneNumber) -> None:
    # given
    message = _send_text(alice.company, number_a, alice)
    with schema_context(alice.company.schema_name):
        thread = Thread.objects.get(pk=message.thread_id)
    # when
    response = alice_client.get(f"/inbox/threads/{thread.public_id}/")
    # then
    assert "get verified" in response.content.decode()


# --- the owner's settings page -----------------------------------------------------------------


def test_owner_submits_details_in_settings(alice: Persona, alice_client: Client) -> None:
    # when
    response = alice_client.post("/settings/business/", {**DETAILS, "verify_links_enabled": "on"})
    page = alice_client.get("/settings/business/")
    # then
    assert response.status_code == 302
    profile = BusinessProfile.objects.get(company=alice.company)
    assert profile.state == BusinessProfile.State.PENDING
    assert profile.verify_links_enabled
    assert "Pending review" in page.content.decode()


def test_settings_form_shows_errors_and_stores_nothing(alice: Persona, alice_client: Client) -> None:
    # when
    response = alice_client.post("/settings/business/", {**DETAILS, "website": "ftp://x", "legal_name": ""})
    # then
    assert response.status_code == 400
    assert "required" in response.content.decode()
    assert not BusinessProfile.objects.filter(company=alice.company).exists()


def test_settings_shows_the_rejection_reason(alice: Persona, alice_client: Client) -> None:
    # given
    submit(alice.company)
    verification.company_verification_reject(company=alice.company, actor=None, reason="<b>Register</b> unknown")
    # when
    html = alice_client.get("/settings/business/").content.decode()
    # then
    assert "&lt;b&gt;Register&lt;/b&gt; unknown" in html


def test_agents_cannot_submit_details(bob_client: Client, bob: Persona) -> None:
    # when
    response = bob_client.post("/settings/business/", DETAILS)
    # then
    assert response.status_code == 403
    assert not BusinessProfile.objects.filter(company=bob.company).exists()


def test_broadcast_with_a_verify_button_sends_one_signed_link(
    alice: Persona, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inbox.providers import bulk
    from inbox.services import broadcasts
    from inbox.tests.factories_broadcasts import BroadcastFactory, OptedInContactFactory

    # given
    settings.WHATSAPP_API_BASE = ""
    settings.BROADCAST_NUMBER_RATE = 100_000
    verified(alice.company, verify_links_enabled=True)
    sender = bulk.bulk_sender_get()
    jobs: list[Any] = []
    original = sender.start
    monkeypatch.setattr(sender, "start", lambda job: (jobs.append(job), original(job))[1])
    with schema_context(alice.company.schema_name):
        OptedInContactFactory.create_batch(2)
        broadcast = BroadcastFactory(
            template=TemplateFactory(buttons=[{"type": "quick_reply", "text": "Stop"}, VERIFY_BUTTON])
        )
        broadcasts.broadcast_start(broadcast=broadcast)
        broadcast.refresh_from_db()
        # when
        broadcasts.broadcast_chunk_send(
            broadcast_id=broadcast.pk, lo=broadcast.first_delivery_id, hi=broadcast.last_delivery_id + 1
        )
        sent = list(Message.objects.filter(direction="outbound", template_name=broadcast.template.name))
        display = broadcast.phone_number.display_number
    # then: the rows and the request carry the same link, for this company and number
    assert len(sent) == 2
    urls = {m.payload["verify_url"] for m in sent}
    assert len(urls) == 1
    (button,) = [c for c in jobs[0].body_template["template"]["components"] if c["type"] == "button"]
    assert button["index"] == "1"
    assert button["parameters"][0]["text"] == sent[0].payload["verify_button"]["suffix"]
    query = parse_qs(urlsplit(urls.pop()).query)
    assert verification.verify_token_check(token=query["token"][0], company_id=alice.company.pk, phone=display)


def test_rejected_details_can_be_resubmitted_unchanged(company_a: Company) -> None:
    # given
    submit(company_a)
    verification.company_verification_reject(company=company_a, actor=None, reason="Send the register extract")
    # when
    profile = submit(company_a)
    # then
    assert profile.state == BusinessProfile.State.PENDING
    assert profile.rejection_reason == ""
