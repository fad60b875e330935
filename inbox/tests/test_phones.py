"""The one phone rule (inbox.phones.phone_normalize): E.164-shaped and a possible length for
the country (`is_possible_number`), not "in an allocated range" (`is_valid_number`), so the
numbers testers use (+1 555…, the UK's +44 7700 900… drama range) are accepted everywhere
a phone is read: contacts, the API's `to`, CSV audiences, connect_number, click-to-chat.
"""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import schema_context

from billing.tests.fixtures import plan_limits_lifted  # noqa: F401 - the fixture
from inbox.models import AudienceUploadRow, Contact, Message, PhoneNumber
from inbox.phones import PHONE_INVALID, phone_from_wa_id, phone_normalize
from inbox.services import clicktochat, contacts, uploads
from inbox.tests.api_helpers import post_json
from inbox.tests.factories import TemplateFactory
from tenants.models import Company, PhoneNumberRoute

pytest_plugins = ["inbox.tests.fixtures_api"]

META_TEST = "+15551234567"  # the 555 style of Meta's test numbers
UK_DRAMA = "+447700900123"  # Ofcom's range for drama, never allocated


# --- the rule ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (META_TEST, META_TEST),
        ("+1 (555) 123-4567", META_TEST),
        ("001 555 123 4567", META_TEST),
        ("15551234567", META_TEST),
        (UK_DRAMA, UK_DRAMA),
        ("+44 7700 900123", UK_DRAMA),
        ("0044 7700 900123", UK_DRAMA),
        ("+49 151 12345678", "+4915112345678"),
        ("+49/30/1234567", "+49301234567"),
        ("+49\u00a0151\u00a012345678", "+4915112345678"),  # a no-break space, as spreadsheets write
        ("+683 4002", "+6834002"),  # Niue: 7 digits in all is a whole number there
    ],
)
def test_accepts_e164_shaped_possible_numbers_and_normalises_them(raw: str, expected: str) -> None:
    assert phone_normalize(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "+",
        "12",
        "+49 1",  # too short for Germany
        "+1 555 1234",  # a US local number without its area code
        "+1234567890123456",  # 16 digits: longer than E.164 allows
        "+49 151 1234567890123",  # too long for Germany
        "not a number",
        "+1 800 FLOWERS",  # letters (libphonenumber would read them as digits)
        "+4915112345678 ext 12",  # an extension
        "+4915112345678;ext=12",
        "+4915112345678#12",
        "++4915112345678",
        "+49+15112345678",
        "+999 123456789",  # no such country code
        "+0 123456789",
    ],
)
def test_refuses_garbage_letters_and_impossible_lengths(raw: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        phone_normalize(raw)
    assert excinfo.value.message_dict == {"phone": [PHONE_INVALID]}


def test_a_whatsapp_id_of_a_test_number_reads_as_e164() -> None:
    assert phone_from_wa_id("15551234567") == META_TEST
    assert phone_from_wa_id("447700900123") == UK_DRAMA


# --- every place a phone comes in -------------------------------------------------------------


@pytest.mark.parametrize(("raw", "stored"), [("+1 555 123 4567", META_TEST), ("+44 7700 900123", UK_DRAMA)])
def test_contacts_take_test_numbers(tenant_a: Company, raw: str, stored: str) -> None:
    contact = contacts.contact_create(phone=raw)
    assert contact.phone == stored
    assert contacts.contact_get_or_create(phone=stored)[0] == contact


@pytest.mark.parametrize("phone", [META_TEST, UK_DRAMA])
def test_api_creates_a_contact_with_a_test_number(tenant_a: Company, api_a: Client, phone: str) -> None:
    response = post_json(api_a, "/api/v1/contacts/", {"phone": phone})
    assert response.status_code == 201
    assert response.json()["phone"] == phone


@pytest.mark.usefixtures("plan_limits_lifted")
@pytest.mark.parametrize("to", [META_TEST, "0044 7700 900123"])
def test_api_sends_a_template_to_a_test_number(
    tenant_a: Company, api_a: Client, connected_number_a: PhoneNumber, to: str
) -> None:
    # given
    with schema_context(tenant_a.schema_name):
        TemplateFactory(name="hello_test", language="en", body="Hello!")
    body = {"to": to, "type": "template", "template": {"name": "hello_test", "language": "en"}}
    # when
    response = post_json(api_a, "/api/v1/messages/", body)
    # then
    assert response.status_code == 202
    with schema_context(tenant_a.schema_name):
        message = Message.objects.select_related("thread__contact").get(public_id=response.json()["id"])
        assert message.thread.contact.phone == phone_normalize(to)


def test_api_still_refuses_a_to_that_is_not_possible(tenant_a: Company, api_a: Client) -> None:
    response = post_json(api_a, "/api/v1/messages/", {"to": "+1 555 1234", "type": "text", "text": "Hi"})
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"to": [PHONE_INVALID]}


def test_csv_audience_takes_test_numbers_and_still_refuses_garbage(tenant_a: Company) -> None:
    # given
    text = f"phone,name\n{META_TEST},Meta\n+44 7700 900123,Drama\n+1 800 FLOWERS,Vanity\n"
    file = SimpleUploadedFile("testers.csv", text.encode(), content_type="text/csv")
    # when
    result = uploads.upload_create(file=file, created_by=None)
    # then
    assert result.rows == 2
    assert result.errors == [{"line": 4, "message": uploads.LINE_BAD_PHONE.format(value="+1 800 FLOWERS")}]
    assert result.upload is not None
    assert sorted(AudienceUploadRow.objects.filter(upload=result.upload).values_list("phone", flat=True)) == sorted(
        [META_TEST, UK_DRAMA]
    )
    assert Contact.objects.filter(phone__in=[META_TEST, UK_DRAMA]).count() == 2


@pytest.mark.parametrize(("display", "stored"), [("+1 555 123 4567", META_TEST), (UK_DRAMA, UK_DRAMA)])
def test_connect_number_takes_a_test_display_number(company_a: Company, display: str, stored: str) -> None:
    out = StringIO()
    call_command(
        "connect_number", "acme", "--phone-number-id", "770000000000777", "--display-number", display, stdout=out
    )
    assert out.getvalue().strip().splitlines()[-1] == f"Connected {stored} (phone_number_id 770000000000777) to acme."
    assert PhoneNumberRoute.objects.get(phone_number_id="770000000000777").display_number == stored


def test_click_to_chat_links_a_test_number() -> None:
    number = PhoneNumber(display_number=phone_normalize("+44 7700 900123"))
    assert clicktochat.clicktochat_url(phone_number=number, text="") == "https://wa.me/447700900123"
