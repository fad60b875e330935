"""verify_company, suspend_company, approve_template: audited, one-line errors, nothing changed."""

from __future__ import annotations

import getpass
from io import StringIO

import pytest
from django.core.management import CommandError, call_command, load_command_class
from django_tenants.utils import schema_context

from inbox.models import Template
from inbox.tests.factories import TemplateFactory
from tenants.models import BusinessProfile, Company, OperatorAction
from tenants.tests.identity_helpers import submit

CLI = f"cli:{getpass.getuser()}"


def _run(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue()


def _fails(name: str, *args: str, match: str) -> None:
    before = OperatorAction.objects.count()
    with pytest.raises(CommandError, match=match) as caught:
        _run(name, *args)
    assert "\n" not in str(caught.value)
    assert OperatorAction.objects.count() == before


# --- verify_company ---------------------------------------------------------------------------


def test_verify_company_verifies_pending_details(company_a: Company) -> None:
    # given
    submit(company_a, display_name="Acme Pizza Berlin")
    # when
    out = _run("verify_company", "acme")
    # then
    assert "Verified acme as 'Acme Pizza Berlin'" in out
    assert BusinessProfile.objects.get(company=company_a).state == BusinessProfile.State.VERIFIED
    row = OperatorAction.objects.get(action="company.verify")
    assert (row.actor, row.actor_label) == (None, CLI)
    assert (row.before["state"], row.after["state"]) == ("pending", "verified")


def test_verify_company_rejects_with_a_reason(company_a: Company) -> None:
    # given
    submit(company_a)
    # when
    _run("verify_company", "acme", "--reject", "Documents expired")
    # then
    profile = BusinessProfile.objects.get(company=company_a)
    assert (profile.state, profile.rejection_reason) == (BusinessProfile.State.REJECTED, "Documents expired")
    assert OperatorAction.objects.get(action="company.verification_reject").actor_label == CLI


def test_verify_company_bad_input_fails_and_changes_nothing(company_a: Company) -> None:
    _fails("verify_company", "nope", match="No company with the slug 'nope'")
    _fails("verify_company", "acme", match="unverified, not pending review")
    submit(company_a)
    _fails("verify_company", "acme", "--reject", "  ", match="reason")
    assert BusinessProfile.objects.get(company=company_a).state == BusinessProfile.State.PENDING


def test_a_failing_command_exits_non_zero_with_one_line(db: None, capsys: pytest.CaptureFixture[str]) -> None:
    # when
    command = load_command_class("tenants", "verify_company")
    with pytest.raises(SystemExit) as caught:
        command.run_from_argv(["manage.py", "verify_company", "nope"])
    # then
    assert caught.value.code == 1
    assert capsys.readouterr().err.strip() == "CommandError: No company with the slug 'nope'."


# --- suspend_company --------------------------------------------------------------------------


def test_suspend_company_and_lift(company_a: Company) -> None:
    # when
    _run("suspend_company", "acme")
    company_a = Company.objects.get(pk=company_a.pk)
    suspended = company_a.status
    _run("suspend_company", "acme", "--lift")
    company_a = Company.objects.get(pk=company_a.pk)
    # then
    assert suspended == Company.Status.SUSPENDED
    assert company_a.status == Company.Status.ACTIVE
    rows = list(OperatorAction.objects.order_by("id").values_list("action", "actor_label"))
    assert rows == [("company.suspend", CLI), ("company.unsuspend", CLI)]


def test_suspend_company_bad_input_fails_and_changes_nothing(company_a: Company) -> None:
    _fails("suspend_company", "nope", match="No company")
    _fails("suspend_company", "acme", "--lift", match="not suspended")
    _run("suspend_company", "acme")
    _fails("suspend_company", "acme", match="not active")
    company_a = Company.objects.get(pk=company_a.pk)
    assert company_a.status == Company.Status.SUSPENDED


# --- approve_template -------------------------------------------------------------------------


def test_approve_template_approves_and_rejects(company_b: Company) -> None:
    # given
    with schema_context(company_b.schema_name):
        TemplateFactory(name="boarding", language="en_US", status=Template.Status.PENDING)
        TemplateFactory(name="promo", status=Template.Status.PENDING)
    # when
    _run("approve_template", "globex", "boarding", "en_US")
    _run("approve_template", "globex", "promo", "en", "--reject", "Misleading claim")
    # then
    with schema_context(company_b.schema_name):
        assert Template.objects.get(name="boarding").status == Template.Status.APPROVED
        promo = Template.objects.get(name="promo")
    assert (promo.status, promo.rejection_reason) == (Template.Status.REJECTED, "Misleading claim")
    rows = list(OperatorAction.objects.order_by("id").values_list("action", "target", "actor_label"))
    assert rows == [("template.approve", "boarding (en_US)", CLI), ("template.reject", "promo (en)", CLI)]


def test_approve_template_bad_input_fails_and_changes_nothing(company_b: Company) -> None:
    # given
    with schema_context(company_b.schema_name):
        TemplateFactory(name="live", status=Template.Status.APPROVED)
        TemplateFactory(name="waiting", status=Template.Status.PENDING)
    # then
    _fails("approve_template", "nope", "live", "en", match="No company")
    _fails("approve_template", "globex", "missing", "en", match="No template 'missing'")
    _fails("approve_template", "globex", "live", "en", match="not pending review")
    _fails("approve_template", "globex", "waiting", "en", "--reject", "", match="reason")
    with schema_context(company_b.schema_name):
        assert Template.objects.get(name="waiting").status == Template.Status.PENDING
        assert Template.objects.get(name="live").status == Template.Status.APPROVED
