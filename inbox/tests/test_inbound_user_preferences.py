"""`user_preferences` webhooks: the customer's stop/resume of marketing in WhatsApp."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from inbox.models import ConsentEvent, Contact, PhoneNumber
from inbox.tests.factories import ContactFactory
from inbox.tests.webhook_payloads import (
    CUSTOMER,
    DISPLAY_A,
    DISPLAY_B,
    NUMBER_A,
    NUMBER_B,
    body_encode,
    connect,
    post,
    post_and_process,
    preference_item,
    preferences_envelope,
    process,
)
from tenants.models import Company


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


@pytest.fixture
def customer(company_a: Company, number_a: PhoneNumber) -> Contact:
    with schema_context(company_a.schema_name):
        return ContactFactory(phone=CUSTOMER, wa_id=CUSTOMER.lstrip("+"))


def _ledger(company: Company, contact: Contact) -> list[tuple[str, str, str]]:
    with schema_context(company.schema_name):
        return [
            (e.action, e.purpose, e.source)
            for e in ConsentEvent.objects.filter(contact=contact).order_by("created_at", "id")
        ]


def _reload(company: Company, contact: Contact) -> Contact:
    with schema_context(company.schema_name):
        return Contact.objects.get(pk=contact.pk)


def test_stop_records_a_marketing_opt_out_with_the_platforms_words(
    public_client: Client, company_a: Company, customer: Contact
) -> None:
    # when
    event = post_and_process(public_client, preferences_envelope(preference_item("stop")))
    # then
    assert (event.item_count, event.error) == (1, "")
    contact = _reload(company_a, customer)
    assert (contact.marketing_opted_out, contact.opted_out) == (True, False)
    with schema_context(company_a.schema_name):
        recorded = ConsentEvent.objects.get(contact=customer)
    assert (recorded.action, recorded.purpose, recorded.source) == ("opt_out", "marketing", "user_preferences")
    assert recorded.detail == (
        "User requested to stop marketing messages [user_preferences:4915112345678:1767261600:stop]"
    )


def test_resume_lifts_the_marketing_opt_out(public_client: Client, company_a: Company, customer: Contact) -> None:
    # given
    post_and_process(public_client, preferences_envelope(preference_item("stop", at=1767261600)))
    # when
    post_and_process(public_client, preferences_envelope(preference_item("resume", at=1767265200)))
    # then
    assert _reload(company_a, customer).marketing_opted_out is False
    assert _ledger(company_a, customer) == [
        ("opt_out", "marketing", "user_preferences"),
        ("opt_in", "marketing", "user_preferences"),
    ]


def test_a_redelivered_webhook_appends_nothing(public_client: Client, company_a: Company, customer: Contact) -> None:
    # given: the provider delivers the same body twice (two stored events)
    payload = preferences_envelope(preference_item("stop"))
    post_and_process(public_client, payload)
    # when
    again = post_and_process(public_client, body_encode(payload))
    # then
    assert again.error == ""
    assert _ledger(company_a, customer) == [("opt_out", "marketing", "user_preferences")]


def test_the_same_change_twice_in_one_body_is_recorded_once(
    public_client: Client, company_a: Company, customer: Contact
) -> None:
    # when
    post_and_process(public_client, preferences_envelope(preference_item("stop"), preference_item("stop")))
    # then
    assert _ledger(company_a, customer) == [("opt_out", "marketing", "user_preferences")]


def test_a_stale_resume_does_not_undo_a_newer_stop(
    public_client: Client, company_a: Company, customer: Contact
) -> None:
    # given: the customer resumed, then stopped; the stop's webhook arrives first
    post_and_process(public_client, preferences_envelope(preference_item("stop", at=1767265200)))
    # when
    post_and_process(public_client, preferences_envelope(preference_item("resume", at=1767261600)))
    # then
    assert _reload(company_a, customer).marketing_opted_out is True
    assert _ledger(company_a, customer) == [("opt_out", "marketing", "user_preferences")]


def test_stop_again_after_resume_is_a_new_change(public_client: Client, company_a: Company, customer: Contact) -> None:
    # when
    post_and_process(public_client, preferences_envelope(
        preference_item("stop", at=1767261600), preference_item("resume", at=1767261700),
        preference_item("stop", at=1767261800)))  # fmt: skip
    # then
    assert _reload(company_a, customer).marketing_opted_out is True
    assert [a for a, _, _ in _ledger(company_a, customer)] == ["opt_out", "opt_in", "opt_out"]


def test_an_unknown_customer_is_not_created_and_nothing_recorded(
    public_client: Client, company_a: Company, number_a: PhoneNumber
) -> None:
    # when
    event = post_and_process(public_client, preferences_envelope(preference_item("stop", wa_id="4915199999999")))
    # then
    assert (event.item_count, event.error) == (1, "")
    with schema_context(company_a.schema_name):
        assert not Contact.objects.exists()
        assert not ConsentEvent.objects.exists()


def test_a_contact_known_by_phone_only_is_found(
    public_client: Client, company_a: Company, number_a: PhoneNumber
) -> None:
    # given: made through the API, so no WhatsApp id yet
    with schema_context(company_a.schema_name):
        contact = ContactFactory(phone=CUSTOMER, wa_id="")
    # when
    post_and_process(public_client, preferences_envelope(preference_item("stop")))
    # then
    assert _reload(company_a, contact).marketing_opted_out is True


def test_another_category_or_value_is_ignored(public_client: Client, company_a: Company, customer: Contact) -> None:
    # when
    post_and_process(public_client, preferences_envelope(
        preference_item("stop", category="offers"), preference_item("maybe")))  # fmt: skip
    # then
    assert _ledger(company_a, customer) == []


def test_an_item_without_timestamp_is_counted_malformed(
    public_client: Client, company_a: Company, customer: Contact
) -> None:
    # when
    event = post_and_process(public_client, preferences_envelope(preference_item("stop", at="soon")))
    # then
    assert event.error == "1 malformed item(s) skipped"
    assert _ledger(company_a, customer) == []


def test_the_change_reaches_only_the_company_owning_the_number(
    public_client: Client, company_a: Company, company_b: Company, customer: Contact
) -> None:
    # given: the same person is a contact of company B too, on B's number
    connect(company_b, NUMBER_B, DISPLAY_B)
    with schema_context(company_b.schema_name):
        at_b = ContactFactory(phone=CUSTOMER, wa_id=CUSTOMER.lstrip("+"))
    # when
    post_and_process(public_client, preferences_envelope(preference_item("stop"), phone_number_id=NUMBER_B))
    # then
    assert _reload(company_b, at_b).marketing_opted_out is True
    assert _reload(company_a, customer).marketing_opted_out is False


def test_an_unrouted_number_is_counted(public_client: Client, db: None) -> None:
    # when
    event = process(post(public_client, preferences_envelope(preference_item("stop"), phone_number_id="1")))
    # then
    assert (event.item_count, event.unrouted_count, event.error) == (1, 1, "")
