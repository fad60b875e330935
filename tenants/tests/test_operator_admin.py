"""The operator console: company list columns, audited actions, template review, masked bodies."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from billing.selectors import plan_get
from inbox.models import Template
from inbox.tests.factories import MessageFactory, TemplateFactory, ThreadFactory
from tenants.models import BusinessProfile, Company, OperatorAction
from tenants.tests.factories import OperatorFactory
from tenants.tests.identity_helpers import submit

ADMIN = "/admin/tenants/company/"


@pytest.fixture
def ops(db: None) -> User:
    return OperatorFactory(email="ops@kontakt.test")


@pytest.fixture
def ops_client(ops: User, db: None) -> Client:
    client = Client(HTTP_HOST="localhost")
    client.force_login(ops)
    return client


def test_company_list_shows_verification_agents_and_last_activity(
    ops_client: Client, company_a: Company, company_b: Company
) -> None:
    # given: acme has alice and bob, and a conversation
    submit(company_a)
    with schema_context(company_a.schema_name):
        thread = ThreadFactory()
    # when
    response = ops_client.get(ADMIN)
    # then
    assert response.status_code == 200
    rows = {c.slug: c for c in response.context["cl"].result_list}
    assert rows["acme"].stats.agents == 2
    assert rows["globex"].stats.agents == 1
    assert rows["acme"].stats.last_activity_at == thread.last_message_at
    assert rows["globex"].stats.last_activity_at is None
    html = response.content.decode()
    assert "Pending review" in html
    assert "usage this period" in html.lower()
    assert "no messages · EUR 0.00" in html


def test_verify_button_verifies_and_is_audited(ops_client: Client, ops: User, company_a: Company) -> None:
    # given
    submit(company_a)
    page = ops_client.get(f"{ADMIN}{company_a.pk}/change/")
    # when
    response = ops_client.post(f"{ADMIN}{company_a.pk}/verify/")
    # then
    assert f'formaction="{ADMIN}{company_a.pk}/verify/"' in page.content.decode()
    assert "Reject business details" in page.content.decode()
    assert response.status_code == 302
    assert BusinessProfile.objects.get(company=company_a).state == BusinessProfile.State.VERIFIED
    row = OperatorAction.objects.get(action="company.verify")
    assert row.actor == ops
    assert row.actor_label == "ops@kontakt.test"
    assert (row.before["state"], row.after["state"]) == ("pending", "verified")


def test_verify_of_details_not_pending_is_refused_with_a_message(ops_client: Client, company_a: Company) -> None:
    # when
    response = ops_client.post(f"{ADMIN}{company_a.pk}/verify/", follow=True)
    # then
    assert "not pending review" in response.content.decode()
    assert not OperatorAction.objects.exists()


def test_bulk_verify_action(ops_client: Client, company_a: Company, company_b: Company) -> None:
    # given: only acme is pending
    submit(company_a)
    # when
    response = ops_client.post(
        ADMIN, {"action": "verify_selected", "_selected_action": [company_a.pk, company_b.pk]}, follow=True
    )
    # then
    html = response.content.decode()
    assert "Verified acme." in html
    assert "Cannot verify globex" in html
    assert OperatorAction.objects.filter(action="company.verify").count() == 1


def test_reject_needs_a_reason_then_records_it(ops_client: Client, company_a: Company) -> None:
    # given
    submit(company_a)
    # when
    form = ops_client.get(f"{ADMIN}{company_a.pk}/reject/")
    empty = ops_client.post(f"{ADMIN}{company_a.pk}/reject/", {"reason": ""})
    done = ops_client.post(f"{ADMIN}{company_a.pk}/reject/", {"reason": "Registration number unknown"})
    # then
    assert form.status_code == 200
    assert empty.status_code == 400
    assert done.status_code == 302
    profile = BusinessProfile.objects.get(company=company_a)
    assert profile.state == BusinessProfile.State.REJECTED
    assert profile.rejection_reason == "Registration number unknown"
    assert OperatorAction.objects.get(action="company.verification_reject").after["rejection_reason"] == (
        "Registration number unknown"
    )


def test_suspend_and_unsuspend_buttons(ops_client: Client, company_a: Company) -> None:
    # when
    page = ops_client.get(f"{ADMIN}{company_a.pk}/change/")
    suspended = ops_client.post(f"{ADMIN}{company_a.pk}/suspend/", {"reason": "Spam complaints"})
    company_a = Company.objects.get(pk=company_a.pk)
    status_after_suspend = company_a.status
    lifted = ops_client.post(f"{ADMIN}{company_a.pk}/unsuspend/", {"reason": "Resolved"})
    company_a = Company.objects.get(pk=company_a.pk)
    # then
    assert "Suspend" in page.content.decode()
    assert (suspended.status_code, lifted.status_code) == (302, 302)
    assert status_after_suspend == Company.Status.SUSPENDED
    assert company_a.status == Company.Status.ACTIVE
    assert list(OperatorAction.objects.order_by("id").values_list("action", flat=True)) == [
        "company.suspend",
        "company.unsuspend",
    ]


def test_unsuspending_an_active_company_is_refused(ops_client: Client, company_a: Company) -> None:
    response = ops_client.post(f"{ADMIN}{company_a.pk}/unsuspend/", {"reason": "x"}, follow=True)
    assert "not suspended" in response.content.decode()
    assert not OperatorAction.objects.exists()


def test_change_plan_through_billing_is_audited(ops_client: Client, ops: User, company_a: Company) -> None:
    # given
    enterprise = plan_get(code="enterprise")
    # when
    form = ops_client.get(f"{ADMIN}{company_a.pk}/plan/")
    response = ops_client.post(f"{ADMIN}{company_a.pk}/plan/", {"plan": enterprise.pk})
    # then
    assert form.status_code == 200
    assert response.status_code == 302
    company_a = Company.objects.get(pk=company_a.pk)
    assert company_a.plan == enterprise
    row = OperatorAction.objects.get(company=company_a, action="plan_change")
    assert row.actor == ops
    assert (row.before, row.after) == ({"plan": "free"}, {"plan": "enterprise"})


def test_change_to_the_same_plan_is_refused_with_the_reason(ops_client: Client, company_a: Company) -> None:
    current = Company.objects.get(pk=company_a.pk).plan_id
    response = ops_client.post(f"{ADMIN}{company_a.pk}/plan/", {"plan": current})
    assert response.status_code == 400
    assert not OperatorAction.objects.exists()


def test_company_fields_are_read_only_in_the_form(ops_client: Client, company_a: Company) -> None:
    # when: a crafted POST tries to change the status without the audited action
    ops_client.post(
        f"{ADMIN}{company_a.pk}/change/",
        {"status": "suspended", "name": "Hacked", "domains-TOTAL_FORMS": "0", "domains-INITIAL_FORMS": "0"},
    )
    # then
    company_a = Company.objects.get(pk=company_a.pk)
    assert (company_a.status, company_a.name) == (Company.Status.ACTIVE, "Acme Pizza")


# --- templates of every company ---------------------------------------------------------------


def test_template_review_lists_pending_templates_of_every_company(
    ops_client: Client, company_a: Company, company_b: Company
) -> None:
    # given
    with schema_context(company_a.schema_name):
        TemplateFactory(name="order_ready", status=Template.Status.PENDING)
        TemplateFactory(name="already_ok", status=Template.Status.APPROVED)
    with schema_context(company_b.schema_name):
        TemplateFactory(name="flight_delayed", status=Template.Status.PENDING, body="Flight <b>{{1}}</b>")
    # when
    response = ops_client.get(f"{ADMIN}templates-review/")
    # then
    names = {(t.company_slug, t.name) for t in response.context["templates"]}
    assert names == {("acme", "order_ready"), ("globex", "flight_delayed")}
    assert "Flight &lt;b&gt;{{1}}&lt;/b&gt;" in response.content.decode()


def test_template_approve_and_reject_from_the_review_page(ops_client: Client, company_b: Company) -> None:
    # given
    with schema_context(company_b.schema_name):
        TemplateFactory(name="boarding", status=Template.Status.PENDING)
        TemplateFactory(name="promo", status=Template.Status.PENDING)
    url = f"{ADMIN}templates-review/"
    base = {"company": company_b.pk, "language": "en"}
    # when
    approved = ops_client.post(url, {**base, "name": "boarding", "decision": "approve"}, follow=True)
    no_reason = ops_client.post(url, {**base, "name": "promo", "decision": "reject", "reason": ""}, follow=True)
    rejected = ops_client.post(url, {**base, "name": "promo", "decision": "reject", "reason": "Misleading"})
    # then
    assert "Approved the template boarding (en) of globex." in approved.content.decode()
    assert "Give a reason" in no_reason.content.decode()
    assert rejected.status_code == 302
    with schema_context(company_b.schema_name):
        assert Template.objects.get(name="boarding").status == Template.Status.APPROVED
        promo = Template.objects.get(name="promo")
    assert (promo.status, promo.rejection_reason) == (Template.Status.REJECTED, "Misleading")
    rows = OperatorAction.objects.filter(company=company_b).order_by("id")
    assert [(r.action, r.target, r.before["status"], r.after["status"]) for r in rows] == [
        ("template.approve", "boarding (en)", "pending", "approved"),
        ("template.reject", "promo (en)", "pending", "rejected"),
    ]


def test_deciding_a_template_that_is_not_pending_is_refused(ops_client: Client, company_a: Company) -> None:
    # given
    with schema_context(company_a.schema_name):
        TemplateFactory(name="live", status=Template.Status.APPROVED)
    # when
    response = ops_client.post(
        f"{ADMIN}templates-review/",
        {"company": company_a.pk, "name": "live", "language": "en", "decision": "reject", "reason": "x"},
        follow=True,
    )
    # then
    assert "not pending review" in response.content.decode()
    assert not OperatorAction.objects.exists()


# --- message bodies: masked, revealed only deliberately and audited ---------------------------


def test_conversations_are_listed_without_bodies_or_full_numbers(ops_client: Client, company_a: Company) -> None:
    # given
    with schema_context(company_a.schema_name):
        thread = ThreadFactory(contact__phone="+4915112345678")
        MessageFactory(thread=thread, text="My secret PIN is 4711")
    # when
    listing = ops_client.get(f"{ADMIN}{company_a.pk}/threads/")
    detail = ops_client.get(f"{ADMIN}{company_a.pk}/threads/{thread.public_id}/")
    # then
    assert "+4915112345678" not in listing.content.decode()
    assert "+49•••••••5678" in listing.content.decode()
    assert "4711" not in detail.content.decode()
    assert "[hidden: 21 characters]" in detail.content.decode()
    assert not OperatorAction.objects.exists()


def test_revealing_bodies_needs_a_reason_and_is_audited(ops_client: Client, ops: User, company_a: Company) -> None:
    # given
    with schema_context(company_a.schema_name):
        thread = ThreadFactory()
        MessageFactory(thread=thread, text="My secret <PIN> is 4711")
    url = f"{ADMIN}{company_a.pk}/threads/{thread.public_id}/"
    # when
    refused = ops_client.post(url, {"reason": ""})
    revealed = ops_client.post(url, {"reason": "Customer complaint #123"})
    # then
    assert refused.status_code == 400
    assert "4711" not in refused.content.decode()
    assert "My secret &lt;PIN&gt; is 4711" in revealed.content.decode()
    row = OperatorAction.objects.get(action="thread.reveal")
    assert (row.actor, row.company) == (ops, company_a)
    assert row.target == f"thread {thread.public_id}"
    assert row.after == {"reason": "Customer complaint #123", "messages": 1}


def test_unknown_thread_is_404(ops_client: Client, company_a: Company) -> None:
    url = f"{ADMIN}{company_a.pk}/threads/00000000-0000-0000-0000-000000000000/"
    assert ops_client.get(url).status_code == 404


# --- the audit log itself -----------------------------------------------------------------------


def test_audit_log_is_visible_and_read_only(ops_client: Client, company_a: Company) -> None:
    # given
    submit(company_a)
    ops_client.post(f"{ADMIN}{company_a.pk}/verify/")
    row = OperatorAction.objects.get(action="company.verify")
    # when
    listing = ops_client.get("/admin/tenants/operatoraction/")
    detail = ops_client.get(f"/admin/tenants/operatoraction/{row.pk}/change/")
    delete = ops_client.get(f"/admin/tenants/operatoraction/{row.pk}/delete/")
    add = ops_client.get("/admin/tenants/operatoraction/add/")
    # then
    assert listing.status_code == 200
    assert "company.verify" in listing.content.decode()
    assert detail.status_code == 200
    assert "<input" not in detail.content.decode().split('id="operatoraction_form"')[-1].split("</form>")[0] or (
        'name="action"' not in detail.content.decode()
    )
    assert (delete.status_code, add.status_code) == (403, 403)


def test_audit_rows_cannot_be_changed_or_deleted_in_code(company_a: Company) -> None:
    # given
    from tenants.services import audit_record

    row = audit_record(actor=None, action="test", company=company_a, before={"a": 1}, after={"a": 2})
    # then
    with pytest.raises(PermissionError):
        row.save()
    with pytest.raises(PermissionError):
        row.delete()
    with pytest.raises(PermissionError):
        OperatorAction.objects.filter(pk=row.pk).update(action="other")
    with pytest.raises(PermissionError):
        OperatorAction.objects.filter(pk=row.pk).delete()
    assert OperatorAction.objects.get(pk=row.pk).actor_label == "system"


def test_business_profiles_are_read_only_in_admin(ops_client: Client, company_a: Company) -> None:
    profile = submit(company_a)
    assert ops_client.get("/admin/tenants/businessprofile/").status_code == 200
    assert ops_client.get(f"/admin/tenants/businessprofile/{profile.pk}/change/").status_code == 200
    change = ops_client.post(f"/admin/tenants/businessprofile/{profile.pk}/change/", {"state": "verified"})
    assert change.status_code == 403
    assert BusinessProfile.objects.get(pk=profile.pk).state == BusinessProfile.State.PENDING
