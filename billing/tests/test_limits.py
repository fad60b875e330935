"""Each plan limit through the service that a sender really calls, and how it is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.services import invitation_create, user_deactivate, user_reactivate
from billing.errors import (
    LIMIT_AGENTS,
    LIMIT_BROADCAST_RECIPIENTS,
    LIMIT_DAILY_MESSAGES,
    LIMIT_PHONE_NUMBERS,
    LIMIT_UNVERIFIED_BROADCAST,
    PlanLimitExceeded,
)
from billing.models import LimitCounter, Plan
from billing.selectors import company_verified, daily_messages_used
from billing.tests.conftest import verify
from conftest import Persona
from inbox import webhook_selectors
from inbox.models import Broadcast, Delivery, Message, PhoneNumber
from inbox.services import broadcasts, messages, numbers
from inbox.tests.api_helpers import post_json
from inbox.tests.factories import ContactFactory, TemplateFactory, ThreadFactory
from inbox.tests.factories_broadcasts import BroadcastFactory, OptedInContactFactory
from tenants.models import Company, PhoneNumberRoute

SetPlan = Callable[..., Plan]


def _template_send(thread: Any) -> Message:
    return messages.message_send(thread=thread, sender=None, type="template", template=TemplateFactory())


# --- business-initiated messages per day --------------------------------------------------------


def test_templates_count_against_the_daily_cap_and_the_next_one_is_refused(
    tenant_a: Company, plan_set: SetPlan
) -> None:
    # given a free plan with 2 template messages a day
    plan_set("free", max_business_initiated_per_day=2)
    thread = ThreadFactory()
    _template_send(thread)
    _template_send(thread)
    # when / then
    with pytest.raises(PlanLimitExceeded) as excinfo:
        _template_send(thread)
    assert excinfo.value.details == {"limit": LIMIT_DAILY_MESSAGES, "used": 2, "allowed": 2}
    assert "/settings/billing/" in excinfo.value.message
    assert Message.objects.filter(direction="outbound").count() == 2
    assert daily_messages_used(company=tenant_a) == 2


def test_free_form_replies_do_not_count(tenant_a: Company, plan_set: SetPlan) -> None:
    plan_set("free", max_business_initiated_per_day=0)
    thread = ThreadFactory(window_open=True)
    messages.message_send(thread=thread, sender=None, type="text", text="Hello")
    assert daily_messages_used(company=tenant_a) == 0


def test_a_refused_send_reserves_nothing(tenant_a: Company, plan_set: SetPlan) -> None:
    # given a template to an opted-out contact (refused after the reservation point)
    plan_set("free", max_business_initiated_per_day=5)
    thread = ThreadFactory(contact=ContactFactory(opted_out=True))
    # when
    with pytest.raises(Exception, match="opted out"):
        _template_send(thread)
    # then: the reservation rolled back with the send
    assert daily_messages_used(company=tenant_a) == 0


def test_enterprise_has_no_daily_cap_but_counts(tenant_b: Company) -> None:
    thread = ThreadFactory()
    for _ in range(3):
        _template_send(thread)
    assert daily_messages_used(company=tenant_b) == 3


def test_api_send_over_the_cap_answers_402_with_the_numbers(
    api_a: Client, company_a: Company, connected_number_a: PhoneNumber, plan_set: SetPlan
) -> None:
    # given
    plan_set("free", max_business_initiated_per_day=0)
    with schema_context(company_a.schema_name):
        TemplateFactory(name="hello", language="de")
    body = {"to": "+4915123456789", "type": "template", "template": {"name": "hello", "language": "de"}}
    # when
    response = post_json(api_a, "/api/v1/messages/", body)
    # then
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "plan_limit_exceeded"
    assert error["details"] == {"limit": "business_initiated_per_day", "used": 0, "allowed": 0}
    assert "Settings → Billing" in error["message"]
    with schema_context(company_a.schema_name):
        assert not Message.objects.filter(direction="outbound").exists()


def test_reply_box_shows_the_limit_and_the_way_to_upgrade(
    alice_client: Client, company_a: Company, plan_set: SetPlan
) -> None:
    # given
    plan_set("free", max_business_initiated_per_day=0)
    with schema_context(company_a.schema_name):
        thread = ThreadFactory()
        template = TemplateFactory(body="Hello there")
    # when
    response = alice_client.post(
        f"/inbox/threads/{thread.public_id}/reply-template/",
        {"template": str(template.public_id)},
        HTTP_HX_REQUEST="true",
    )
    # then
    assert response.status_code == 400
    body = response.content.decode()
    assert "template messages per day" in body
    assert "/settings/billing/" in body


# --- broadcasts: the whole audience up front --------------------------------------------------------


def _broadcast(recipients: int) -> Broadcast:
    OptedInContactFactory.create_batch(recipients)
    return BroadcastFactory()


def test_a_broadcast_over_the_per_broadcast_cap_is_refused_and_sends_nothing(
    tenant_a: Company, plan_set: SetPlan
) -> None:
    # given a verified free company and a cap of 5 recipients per broadcast
    plan_set("free", max_broadcast_recipients=5)
    verify(tenant_a)
    broadcast = _broadcast(6)
    # when
    with pytest.raises(PlanLimitExceeded) as excinfo:
        broadcasts.broadcast_start(broadcast=broadcast)
    # then
    assert excinfo.value.details == {"limit": LIMIT_BROADCAST_RECIPIENTS, "used": 6, "allowed": 5}
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.DRAFT
    assert not Delivery.objects.filter(broadcast=broadcast).exists()
    assert daily_messages_used(company=tenant_a) == 0


def test_a_broadcast_passing_todays_cap_is_refused_up_front(tenant_a: Company, plan_set: SetPlan) -> None:
    plan_set("free", max_business_initiated_per_day=10)
    verify(tenant_a)
    thread = ThreadFactory()
    for _ in range(6):
        _template_send(thread)
    broadcast = _broadcast(5)
    with pytest.raises(PlanLimitExceeded) as excinfo:
        broadcasts.broadcast_start(broadcast=broadcast)
    assert excinfo.value.details == {"limit": LIMIT_DAILY_MESSAGES, "used": 6, "allowed": 10}
    assert not Delivery.objects.filter(broadcast=broadcast).exists()


def test_an_unverified_company_broadcasts_to_the_small_cap_only(tenant_a: Company, plan_set: SetPlan) -> None:
    # given an unverified company with a cap of 3
    plan_set("free", unverified_broadcast_cap=3)
    broadcast = _broadcast(4)
    # when / then
    with pytest.raises(PlanLimitExceeded) as excinfo:
        broadcasts.broadcast_start(broadcast=broadcast)
    assert excinfo.value.details == {"limit": LIMIT_UNVERIFIED_BROADCAST, "used": 4, "allowed": 3}
    assert "verified" in excinfo.value.message
    # and once verified, the same broadcast starts and reserves its audience
    verify(tenant_a)
    started = broadcasts.broadcast_start(broadcast=broadcast)
    assert started.status == Broadcast.Status.RUNNING
    assert started.total == 4
    assert daily_messages_used(company=tenant_a) == 4


def test_an_unverified_free_company_broadcasts_to_at_most_the_seeded_fifty(tenant_a: Company) -> None:
    # given alice's unverified free company and the seeded cap (ARCHITECTURE.md "Plans")
    assert not company_verified(company=tenant_a)
    broadcast = _broadcast(51)
    # when / then
    with pytest.raises(PlanLimitExceeded) as excinfo:
        broadcasts.broadcast_start(broadcast=broadcast)
    assert excinfo.value.details == {"limit": LIMIT_UNVERIFIED_BROADCAST, "used": 51, "allowed": 50}
    assert not Delivery.objects.filter(broadcast=broadcast).exists()


def test_an_unverified_enterprise_company_broadcasts_to_more_than_fifty(tenant_b: Company) -> None:
    # given charlie's enterprise company, not verified: Enterprise has no unverified cap
    assert not company_verified(company=tenant_b)
    assert Plan.objects.get(code="enterprise").unverified_broadcast_cap is None
    broadcast = _broadcast(51)
    # when
    started = broadcasts.broadcast_start(broadcast=broadcast)
    # then
    assert started.status == Broadcast.Status.RUNNING
    assert started.total == 51
    assert daily_messages_used(company=tenant_b) == 51


def test_broadcast_start_page_shows_the_refusal(alice_client: Client, company_a: Company, plan_set: SetPlan) -> None:
    plan_set("free", unverified_broadcast_cap=1)
    with schema_context(company_a.schema_name):
        broadcast = _broadcast(2)
    response = alice_client.post(f"/broadcasts/{broadcast.public_id}/start/")
    assert response.status_code == 402
    assert "until your business is verified" in response.content.decode()
    with schema_context(company_a.schema_name):
        assert Broadcast.objects.get(pk=broadcast.pk).status == Broadcast.Status.DRAFT


# --- agents -------------------------------------------------------------------------------------------------


def test_invitations_stop_at_the_agent_limit(tenant_a: Company, alice: Persona) -> None:
    # given acme (free, 3 agents) with alice and bob: one seat left
    invitation_create(actor=alice.user, email="carol@acme.test", role=User.Role.AGENT)
    # when / then
    with pytest.raises(PlanLimitExceeded) as excinfo:
        invitation_create(actor=alice.user, email="dave@acme.test", role=User.Role.AGENT)
    assert excinfo.value.details == {"limit": LIMIT_AGENTS, "used": 3, "allowed": 3}


def test_inviting_the_same_person_again_reuses_the_seat(tenant_a: Company, alice: Persona) -> None:
    invitation_create(actor=alice.user, email="carol@acme.test", role=User.Role.AGENT)
    invitation_create(actor=alice.user, email="carol@acme.test", role=User.Role.ADMIN)


def test_reactivating_an_agent_needs_a_seat(tenant_a: Company, alice: Persona, bob: Persona) -> None:
    # a fresh copy: the session's persona object must not keep a deactivated state
    user_deactivate(actor=alice.user, user=User.objects.get(pk=bob.user.pk))
    invitation_create(actor=alice.user, email="carol@acme.test", role=User.Role.AGENT)
    invitation_create(actor=alice.user, email="dave@acme.test", role=User.Role.AGENT)
    with pytest.raises(PlanLimitExceeded):
        user_reactivate(actor=alice.user, user=User.objects.get(pk=bob.user.pk))
    assert not User.objects.get(pk=bob.user.pk).is_active


def test_team_page_shows_the_agent_limit(alice_client: Client, company_a: Company, plan_set: SetPlan) -> None:
    plan_set("free", max_agents=2)
    response = alice_client.post("/settings/team/invite/", {"email": "carol@acme.test", "role": "agent"})
    assert response.status_code == 400
    assert "Your plan allows 2 agents" in response.content.decode()


# --- numbers ----------------------------------------------------------------------------------------------


def test_a_free_company_connects_one_number(company_a: Company) -> None:
    numbers.phone_number_connect(company=company_a, phone_number_id="770000000000401", display_number="+4930401")
    with pytest.raises(PlanLimitExceeded) as excinfo:
        numbers.phone_number_connect(company=company_a, phone_number_id="770000000000402", display_number="+4930402")
    assert excinfo.value.details == {"limit": LIMIT_PHONE_NUMBERS, "used": 1, "allowed": 1}
    assert not PhoneNumberRoute.objects.filter(phone_number_id="770000000000402").exists()


def test_an_enterprise_company_connects_many(company_b: Company) -> None:
    for i in range(3):
        numbers.phone_number_connect(
            company=company_b, phone_number_id=f"77000000000050{i}", display_number=f"+493050{i}"
        )
    assert PhoneNumberRoute.objects.filter(company=company_b).count() == 3


def test_numbers_page_and_api_refuse_the_second_number(
    alice_client: Client, api_a: Client, company_a: Company, connected_number_a: PhoneNumber
) -> None:
    page = alice_client.post(
        "/settings/numbers/", {"phone_number_id": "770000000000403", "display_number": "+493012345403"}
    )
    assert page.status_code == 402
    assert "connected number" in page.content.decode()
    api = post_json(
        api_a,
        "/api/v1/phone-numbers/",
        {"phone_number_id": "770000000000404", "display_number": "+493012345404", "access_token": "t"},
    )
    assert api.status_code == 402
    assert api.json()["error"]["details"] == {"limit": "phone_numbers", "used": 1, "allowed": 1}


# --- webhooks and API rate: flags and figures on the plan row -------------------------------------------------


def test_webhooks_follow_the_plan_flag(company_a: Company, plan_set: SetPlan) -> None:
    assert not webhook_selectors.company_webhooks_allowed(company_a)
    plan_set("free", outgoing_webhooks=True)
    company = Company.objects.select_related("plan").get(pk=company_a.pk)
    assert webhook_selectors.company_webhooks_allowed(company)
    assert company in webhook_selectors.company_list_with_webhooks()


def test_api_rate_comes_from_the_plan(
    api_client: Callable[..., Client], alice: Persona, alice_key: Any, plan_set: SetPlan, settings: Any
) -> None:
    settings.API_RATE_PER_MINUTE = 0
    plan_set("free", api_requests_per_minute=2)
    client = api_client(alice, alice_key)
    statuses = [client.get("/api/v1/me").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_counters_are_per_company(tenant_a: Company, company_b: Company, plan_set: SetPlan) -> None:
    plan_set("free", max_business_initiated_per_day=1)
    _template_send(ThreadFactory())
    with schema_context(company_b.schema_name):
        _template_send(ThreadFactory())
    assert set(LimitCounter.objects.values_list("company_id", "used")) == {(tenant_a.pk, 1), (company_b.pk, 1)}
