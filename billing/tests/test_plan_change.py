"""Plan changes: the service, downgrade refusals, the owner's request, the operator's approval,
`set_plan`, and the admin views of billing."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from billing import services
from billing.errors import PlanChangeRefused
from billing.models import PlanChangeRequest, RatePrice, Subscription
from billing.selectors import plan_get
from inbox.models import WebhookSubscription
from inbox.services import numbers
from tenants.models import Company, OperatorAction
from tenants.tests.factories import OperatorFactory


def _plan_code(company: Company) -> str:
    return Company.objects.select_related("plan").get(pk=company.pk).plan.code


@pytest.fixture
def ops(db: None) -> User:
    return OperatorFactory(email="ops@kontakt.test")


@pytest.fixture
def ops_client(ops: User) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(ops)
    return client


# --- the service -----------------------------------------------------------------------------------


def test_upgrade_changes_the_plan_opens_a_span_and_is_audited(company_a: Company, ops: User) -> None:
    services.plan_change(company=company_a, plan=plan_get(code="enterprise"), actor=ops)
    assert _plan_code(company_a) == "enterprise"
    spans = list(
        Subscription.objects.filter(company=company_a).order_by("started_at").values_list("plan__code", "ended_at")
    )
    assert [code for code, _ in spans] == ["free", "enterprise"]
    assert spans[0][1] is not None
    assert spans[1][1] is None
    audit = OperatorAction.objects.get(action="plan_change", company=company_a)
    assert (audit.actor_id, audit.before, audit.after) == (ops.pk, {"plan": "free"}, {"plan": "enterprise"})


def test_downgrade_with_too_many_numbers_is_refused_with_the_reason(company_b: Company) -> None:
    for i in range(2):
        numbers.phone_number_connect(
            company=company_b, phone_number_id=f"77000000000070{i}", display_number=f"+4930700{i}00"
        )
    with pytest.raises(PlanChangeRefused, match="2 connected numbers; the Free plan allows 1"):
        services.plan_change(company=company_b, plan=plan_get(code="free"), actor=None)
    assert _plan_code(company_b) == "enterprise"
    assert not Subscription.objects.filter(company=company_b).exists()
    assert not OperatorAction.objects.filter(action="plan_change").exists()


def test_downgrade_with_too_many_agents_is_refused(company_b: Company) -> None:
    with schema_context(company_b.schema_name):
        for name in ("dora", "emil", "fay"):
            User.objects.create_user(f"{name}@globex.test", "pw-123456789", role=User.Role.AGENT)
    with pytest.raises(PlanChangeRefused, match="4 agents"):
        services.plan_change(company=company_b, plan=plan_get(code="free"), actor=None)


def test_downgrade_with_webhooks_is_refused(company_b: Company) -> None:
    with schema_context(company_b.schema_name):
        WebhookSubscription.objects.create(url="https://hooks.example/x", events=["message.received"], secret="s")
    with pytest.raises(PlanChangeRefused, match="no outgoing webhooks"):
        services.plan_change(company=company_b, plan=plan_get(code="free"), actor=None)


def test_a_downgrade_within_the_limits_works(company_b: Company) -> None:
    services.plan_change(company=company_b, plan=plan_get(code="free"), actor=None, actor_label="test")
    assert _plan_code(company_b) == "free"
    assert OperatorAction.objects.get(action="plan_change").actor_label == "test"


# --- owner's request, operator's approval --------------------------------------------------------------


def test_owner_requests_and_an_operator_approves(
    alice_client: Client, company_a: Company, ops_client: Client, settings: Any
) -> None:
    settings.BILLING_PLAN_CHANGES_INSTANT = False
    # when alice asks for enterprise
    response = alice_client.post("/settings/billing/plan/", {"plan": "enterprise"})
    # then it waits for an operator
    assert response.status_code == 302
    request = PlanChangeRequest.objects.get(company=company_a)
    assert (request.status, request.requested_by) == ("pending", "alice@acme.test")
    assert _plan_code(company_a) == "free"
    page = alice_client.get("/settings/billing/")
    assert "Pending" in page.content.decode()
    # a second request meanwhile is refused
    alice_client.post("/settings/billing/plan/", {"plan": "enterprise"})
    assert PlanChangeRequest.objects.filter(company=company_a).count() == 1
    # when an operator approves in the admin
    listing = ops_client.get("/admin/billing/planchangerequest/")
    assert listing.status_code == 200
    assert "acme" in listing.content.decode()
    ops_client.post("/admin/billing/planchangerequest/", {"action": "approve", "_selected_action": [str(request.pk)]})
    # then
    request.refresh_from_db()
    assert request.status == "approved"
    assert request.decided_by == "ops@kontakt.test"
    assert _plan_code(company_a) == "enterprise"


def test_operator_rejects(company_a: Company, ops_client: Client, settings: Any) -> None:
    settings.BILLING_PLAN_CHANGES_INSTANT = False
    request = services.plan_change_request(company=company_a, plan=plan_get(code="enterprise"), requested_by="a@x")
    ops_client.post("/admin/billing/planchangerequest/", {"action": "reject", "_selected_action": [str(request.pk)]})
    request.refresh_from_db()
    assert request.status == "rejected"
    assert _plan_code(company_a) == "free"
    assert OperatorAction.objects.filter(action="plan_request_reject", company=company_a).exists()


def test_demo_mode_approves_at_once(alice_client: Client, company_a: Company, settings: Any) -> None:
    settings.BILLING_PLAN_CHANGES_INSTANT = True
    response = alice_client.post("/settings/billing/plan/", {"plan": "enterprise"}, follow=True)
    assert "You are on the Enterprise plan now." in response.content.decode()
    assert _plan_code(company_a) == "enterprise"
    assert OperatorAction.objects.get(action="plan_change").actor_label == "demo: instant approval"


def test_owner_learns_at_once_that_a_downgrade_is_refused(
    charlie_client: Client, company_b: Company, settings: Any
) -> None:
    settings.BILLING_PLAN_CHANGES_INSTANT = False
    with schema_context(company_b.schema_name):
        WebhookSubscription.objects.create(url="https://hooks.example/x", events=["message.received"], secret="s")
    response = charlie_client.post("/settings/billing/plan/", {"plan": "free"}, follow=True)
    assert "no outgoing webhooks" in response.content.decode()
    assert not PlanChangeRequest.objects.exists()


def test_an_unknown_plan_in_the_form_is_refused(alice_client: Client, company_a: Company) -> None:
    response = alice_client.post("/settings/billing/plan/", {"plan": "platinum"}, follow=True)
    assert "Choose one of the plans." in response.content.decode()
    assert not PlanChangeRequest.objects.exists()


# --- set_plan ----------------------------------------------------------------------------------------------


def _set_plan(*args: str) -> str:
    out = StringIO()
    call_command("set_plan", *args, stdout=out)
    return out.getvalue()


def test_set_plan_changes_the_plan_and_is_audited(company_a: Company) -> None:
    assert _set_plan("acme", "enterprise").strip().endswith("acme is on the Enterprise plan now.")
    assert _plan_code(company_a) == "enterprise"
    assert OperatorAction.objects.get(action="plan_change").actor_label.startswith("cli:")


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("nope", "enterprise"), "No company with the slug 'nope'."),
        (("acme", "platinum"), "Unknown plan 'platinum'."),
        (("acme", "free"), "already on the Free plan"),
    ],
)
def test_set_plan_bad_input_exits_with_one_line_and_changes_nothing(
    company_a: Company, args: tuple[str, str], reason: str
) -> None:
    with pytest.raises(CommandError, match=reason) as excinfo:
        _set_plan(*args)
    assert "\n" not in str(excinfo.value)
    assert _plan_code(company_a) == "free"
    assert not OperatorAction.objects.exists()


def test_set_plan_refuses_a_downgrade_beyond_the_limits(company_b: Company) -> None:
    for i in range(2):
        numbers.phone_number_connect(
            company=company_b, phone_number_id=f"77000000000080{i}", display_number=f"+4930800{i}00"
        )
    with pytest.raises(CommandError, match="connected numbers") as excinfo:
        _set_plan("globex", "free")
    assert "\n" not in str(excinfo.value)
    assert _plan_code(company_b) == "enterprise"


# --- admin: plans and rate cards are rows operators edit -------------------------------------------------


def test_operator_edits_a_plan_and_its_rate_card(ops_client: Client, company_b: Company) -> None:
    plan = plan_get(code="enterprise")
    page = ops_client.get(f"/admin/billing/plan/{plan.pk}/change/")
    assert page.status_code == 200
    assert "Outgoing webhooks" in page.content.decode()
    assert ops_client.get("/admin/billing/usagerecord/").status_code == 200
    assert ops_client.get("/admin/billing/invoice/").status_code == 200
    assert ops_client.get("/admin/billing/subscription/").status_code == 200
    assert RatePrice.objects.filter(plan=plan).count() == 16
