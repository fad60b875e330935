"""`message_template_status_update` webhooks: routed by business account, applied by name + language."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django_tenants.utils import schema_context

from inbox.models import PhoneNumber, Template
from inbox.services import numbers
from inbox.tests.factories import TemplateFactory
from inbox.tests.webhook_payloads import (
    CUSTOMER,
    DISPLAY_A,
    DISPLAY_B,
    NUMBER_A,
    NUMBER_B,
    connect,
    envelope_build,
    post_and_process,
    sandbox_waba_id,
    status_item,
    template_status_envelope,
)
from tenants.models import Company, PhoneNumberRoute

WABA_A = sandbox_waba_id(NUMBER_A)
WABA_B = sandbox_waba_id(NUMBER_B)


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return numbers.phone_number_connect(
        company=company_a, phone_number_id=NUMBER_A, display_number=DISPLAY_A, waba_id=WABA_A
    )


@pytest.fixture
def pending(company_a: Company, number_a: PhoneNumber) -> Template:
    with schema_context(company_a.schema_name):
        return TemplateFactory(name="order_shipped", language="en", status=Template.Status.PENDING)


def _status(company: Company, template: Template) -> tuple[str, str]:
    with schema_context(company.schema_name):
        found = Template.objects.get(pk=template.pk)
    return found.status, found.rejection_reason


def test_approved_approves_the_template(public_client: Client, company_a: Company, pending: Template) -> None:
    # when
    event = post_and_process(public_client, template_status_envelope("APPROVED", name="order_shipped"))
    # then
    assert (event.item_count, event.unrouted_count, event.error) == (1, 0, "")
    assert _status(company_a, pending) == ("approved", "")


def test_rejected_keeps_the_reason(public_client: Client, company_a: Company, pending: Template) -> None:
    # when
    post_and_process(public_client, template_status_envelope("REJECTED", name="order_shipped", reason="INVALID_FORMAT"))
    # then
    assert _status(company_a, pending) == ("rejected", "INVALID_FORMAT")


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        ("PAUSED", ("paused", "")),
        ("DISABLED", ("rejected", "DISABLED")),
        ("PENDING_DELETION", ("rejected", "PENDING_DELETION")),
        ("IN_APPEAL", ("pending", "")),
        ("REINSTATED", ("approved", "")),
    ],
)
def test_later_events_map_to_a_status(
    public_client: Client, company_a: Company, pending: Template, event: str, expected: tuple[str, str]
) -> None:
    # when
    post_and_process(public_client, template_status_envelope(event, name="order_shipped"))
    # then
    assert _status(company_a, pending) == expected


def test_flagged_leaves_the_template_sendable(public_client: Client, company_a: Company, number_a: PhoneNumber) -> None:
    # given
    with schema_context(company_a.schema_name):
        approved = TemplateFactory(name="order_shipped", language="en")
    # when
    event = post_and_process(public_client, template_status_envelope("FLAGGED", name="order_shipped"))
    # then
    assert event.error == ""
    assert _status(company_a, approved) == ("approved", "")


def test_only_the_language_named_changes(public_client: Client, company_a: Company, pending: Template) -> None:
    # given
    with schema_context(company_a.schema_name):
        german = TemplateFactory(name="order_shipped", language="de", status=Template.Status.PENDING)
    # when
    post_and_process(public_client, template_status_envelope("APPROVED", name="order_shipped", language="de"))
    # then
    assert _status(company_a, german) == ("approved", "")
    assert _status(company_a, pending) == ("pending", "")


def test_another_companys_template_of_the_same_name_is_untouched(
    public_client: Client, company_a: Company, company_b: Company, pending: Template
) -> None:
    # given
    numbers.phone_number_connect(company=company_b, phone_number_id=NUMBER_B, display_number=DISPLAY_B, waba_id=WABA_B)
    with schema_context(company_b.schema_name):
        at_b = TemplateFactory(name="order_shipped", language="en", status=Template.Status.PENDING)
    # when
    post_and_process(public_client, template_status_envelope("APPROVED", name="order_shipped", waba_id=WABA_B))
    # then
    assert _status(company_b, at_b) == ("approved", "")
    assert _status(company_a, pending) == ("pending", "")


def test_the_account_is_learnt_from_the_numbers_own_webhooks(
    public_client: Client, company_a: Company, db: None
) -> None:
    # given: connected without the account id
    connect(company_a, NUMBER_A, DISPLAY_A)
    with schema_context(company_a.schema_name):
        pending = TemplateFactory(name="order_shipped", language="en", status=Template.Status.PENDING)
    post_and_process(
        public_client,
        envelope_build(phone_number_id=NUMBER_A, statuses=[status_item(wamid="wamid.X", status="read",
                                                                         recipient=CUSTOMER)]),
    )  # fmt: skip
    # when
    post_and_process(public_client, template_status_envelope("APPROVED", name="order_shipped"))
    # then
    assert PhoneNumberRoute.objects.get(phone_number_id=NUMBER_A).waba_id == WABA_A
    assert _status(company_a, pending) == ("approved", "")


def test_an_unknown_account_is_counted_unrouted(public_client: Client, company_a: Company, pending: Template) -> None:
    # when
    event = post_and_process(
        public_client, template_status_envelope("APPROVED", name="order_shipped", waba_id="889999999999999")
    )
    # then
    assert (event.item_count, event.unrouted_count, event.error) == (1, 1, "")
    assert _status(company_a, pending) == ("pending", "")


def test_an_unknown_template_or_a_replay_changes_nothing(
    public_client: Client, company_a: Company, pending: Template
) -> None:
    # given
    post_and_process(public_client, template_status_envelope("APPROVED", name="order_shipped"))
    # when
    unknown = post_and_process(public_client, template_status_envelope("APPROVED", name="not_here"))
    replay = post_and_process(public_client, template_status_envelope("APPROVED", name="order_shipped"))
    # then
    assert (unknown.error, replay.error) == ("", "")
    assert _status(company_a, pending) == ("approved", "")


def test_a_change_without_a_name_is_counted_malformed(public_client: Client, number_a: PhoneNumber) -> None:
    # when
    event = post_and_process(public_client, template_status_envelope("APPROVED", name=""))
    # then
    assert event.error == "1 malformed item(s) skipped"


def test_connect_refuses_an_account_id_that_is_not_numeric(company_a: Company) -> None:
    with pytest.raises(ValidationError) as excinfo:
        numbers.phone_number_connect(
            company=company_a, phone_number_id=NUMBER_A, display_number=DISPLAY_A, waba_id="acme-waba"
        )
    assert excinfo.value.message_dict["waba_id"] == [numbers.WABA_ID_INVALID]
    assert not PhoneNumberRoute.objects.filter(phone_number_id=NUMBER_A).exists()
