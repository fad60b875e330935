from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from inbox.models import ConsentEvent, Contact
from inbox.services import contacts
from inbox.tests.factories import ContactFactory
from tenants.models import Company


def test_get_or_create_makes_one_contact_and_refreshes_profile_name(tenant_a: Company) -> None:
    # given
    first, created_first = contacts.contact_get_or_create(
        phone="+4915112345678", profile_name="Ana", wa_id="4915112345678"
    )
    # when
    again, created_again = contacts.contact_get_or_create(phone="+4915112345678", profile_name="Ana P.")
    # then
    assert created_first is True
    assert created_again is False
    assert again.pk == first.pk
    assert again.profile_name == "Ana P."
    assert Contact.objects.filter(phone="+4915112345678").count() == 1


def test_create_normalises_phone_and_records_api_opt_in(tenant_a: Company) -> None:
    # when
    contact = contacts.contact_create(phone="0049 151 1234 5678", name="Ana", opted_in=True, labels=["vip"])
    # then
    assert contact.phone == "+4915112345678"
    assert contact.opted_in is True
    event = ConsentEvent.objects.get(contact=contact)
    assert (event.action, event.purpose, event.source) == ("opt_in", "all", "api")
    assert [label.name for label in contact.labels.all()] == ["vip"]


@pytest.mark.parametrize("phone", ["12", "not a number", "+49 1"])
def test_create_refuses_an_invalid_phone(tenant_a: Company, phone: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        contacts.contact_create(phone=phone)
    assert "phone" in excinfo.value.message_dict


def test_create_refuses_a_duplicate_phone(tenant_a: Company) -> None:
    ContactFactory(phone="+4915112345678")
    with pytest.raises(ValidationError) as excinfo:
        contacts.contact_create(phone="+49 151 12345678")
    assert excinfo.value.message_dict["phone"] == [contacts.CONTACT_PHONE_TAKEN]


def test_update_merges_attributes_and_null_removes_a_key(tenant_a: Company) -> None:
    # given
    contact = ContactFactory(attributes={"tier": "gold", "city": "Berlin"})
    # when
    contacts.contact_update(contact=contact, attributes={"city": None, "seat": "12A"})
    # then
    contact.refresh_from_db()
    assert contact.attributes == {"tier": "gold", "seat": "12A"}


def test_update_refuses_nested_attributes(tenant_a: Company) -> None:
    contact = ContactFactory()
    with pytest.raises(ValidationError):
        contacts.contact_update(contact=contact, attributes={"address": {"city": "Berlin"}})


def test_flags_follow_the_latest_event_per_purpose(tenant_a: Company) -> None:
    # given
    contact = ContactFactory()
    # when / then
    contacts.consent_record(contact=contact, action="opt_in", source="web form")
    assert (contact.opted_in, contact.opted_out, contact.marketing_opted_out) == (True, False, False)
    contacts.consent_record(contact=contact, action="opt_out", purpose="marketing", source="user_preferences")
    assert (contact.opted_in, contact.opted_out, contact.marketing_opted_out) == (True, False, True)
    contacts.consent_record(contact=contact, action="opt_out", source="keyword", detail="STOP")
    assert (contact.opted_in, contact.opted_out, contact.marketing_opted_out) == (False, True, True)
    contacts.consent_record(contact=contact, action="opt_in", source="keyword", detail="START")
    assert (contact.opted_in, contact.opted_out, contact.marketing_opted_out) == (True, False, False)
    assert ConsentEvent.objects.filter(contact=contact).count() == 4
    contact.refresh_from_db()
    assert contact.opted_in is True


def test_a_marketing_opt_in_lifts_only_the_marketing_opt_out(tenant_a: Company) -> None:
    # given
    contact = ContactFactory()
    contacts.consent_record(contact=contact, action="opt_out", source="keyword", detail="STOP")
    contacts.consent_record(contact=contact, action="opt_out", purpose="marketing", source="user_preferences")
    # when
    contacts.consent_record(contact=contact, action="opt_in", purpose="marketing", source="user_preferences")
    # then
    contact.refresh_from_db()
    assert (contact.opted_in, contact.opted_out, contact.marketing_opted_out) == (False, True, False)


def test_consent_needs_a_source_and_known_action(tenant_a: Company) -> None:
    contact = ContactFactory()
    with pytest.raises(ValidationError):
        contacts.consent_record(contact=contact, action="maybe", source="api")
    with pytest.raises(ValidationError):
        contacts.consent_record(contact=contact, action="opt_in", source=" ")
    assert not ConsentEvent.objects.filter(contact=contact).exists()


def test_contacts_of_a_are_not_visible_in_b(company_a: Company, company_b: Company) -> None:
    from django_tenants.utils import schema_context

    with schema_context(company_a.schema_name):
        ContactFactory(phone="+4915199999999")
    with schema_context(company_b.schema_name):
        assert not Contact.objects.filter(phone="+4915199999999").exists()
