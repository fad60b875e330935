"""A provider's `phone_number_id` is any id safe in a URL path segment: letters, digits,
".", "_" and "-" (1 to 64), never only dots; it is connected, routed inbound and used in the
provider's URL as it is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django_tenants.utils import schema_context

from conftest import Persona
from inbox import tasks
from inbox.models import Message, PhoneNumber
from inbox.services import messages, numbers
from inbox.tests.factories import ThreadFactory
from inbox.tests.provider_stub import ProviderStub
from inbox.tests.webhook_payloads import (
    CUSTOMER,
    envelope_build,
    post_and_process,
    text_message_item,
)
from tenants.models import Company, PhoneNumberRoute

NAMED_ID = "Test-Number_01.eu"


@pytest.mark.parametrize("phone_number_id", [NAMED_ID, "abc", "770000000000001", "a" * 64, "v1.2", "x-y_z"])
def test_connects_an_id_of_letters_digits_dots_dashes_and_underscores(company_a: Company, phone_number_id: str) -> None:
    # when
    number = numbers.phone_number_connect(
        company=company_a, phone_number_id=phone_number_id, display_number="+4930123456"
    )
    # then
    assert number.phone_number_id == phone_number_id
    assert PhoneNumberRoute.objects.get(phone_number_id=phone_number_id).company == company_a
    with schema_context(company_a.schema_name):
        assert PhoneNumber.objects.get().phone_number_id == phone_number_id


@pytest.mark.parametrize(
    "phone_number_id",
    ["", "   ", "770/001", "../messages", "770 001", ".", "..", "...", "a" * 65, "770:001", "770?x", "770%2F1",
     "77#0", "nümmer", "770\n001"],
)  # fmt: skip
def test_refuses_an_id_not_safe_in_a_url_path_segment(company_a: Company, phone_number_id: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        numbers.phone_number_connect(company=company_a, phone_number_id=phone_number_id, display_number="+4930123456")
    assert excinfo.value.message_dict == {"phone_number_id": [numbers.PHONE_NUMBER_ID_INVALID]}
    assert not PhoneNumberRoute.objects.exists()
    with schema_context(company_a.schema_name):
        assert not PhoneNumber.objects.exists()


def test_the_id_is_trimmed(company_a: Company) -> None:
    number = numbers.phone_number_connect(
        company=company_a, phone_number_id=f"  {NAMED_ID} ", display_number="+4930123456"
    )
    assert number.phone_number_id == NAMED_ID


def test_an_inbound_message_for_a_named_id_is_routed_to_its_company(
    public_client: Client, company_a: Company, company_b: Company
) -> None:
    # given
    number = numbers.phone_number_connect(company=company_a, phone_number_id=NAMED_ID, display_number="+4930123456")
    numbers.phone_number_connect(company=company_b, phone_number_id="770000000000002", display_number="+4930123457")
    payload = envelope_build(
        phone_number_id=NAMED_ID, messages=[text_message_item(sender=CUSTOMER, text="Hallo", wamid="wamid.N1")]
    )
    # when
    event = post_and_process(public_client, payload)
    # then
    assert (event.item_count, event.unrouted_count, event.error) == (1, 0, "")
    with schema_context(company_a.schema_name):
        message = Message.objects.select_related("thread__phone_number").get(wamid="wamid.N1")
        assert message.thread.phone_number == number
    with schema_context(company_b.schema_name):
        assert not Message.objects.exists()


@pytest.fixture
def stub(settings: Any) -> Iterator[ProviderStub]:
    with ProviderStub.running() as running:
        settings.WHATSAPP_API_BASE = running.base_url
        settings.WHATSAPP_API_VERSION = "v25.0"
        settings.WHATSAPP_HTTP_TIMEOUT = 0.5
        yield running


def test_the_provider_url_carries_a_named_id_as_it_is(alice: Persona, company_a: Company, stub: ProviderStub) -> None:
    # given
    numbers.phone_number_connect(
        company=company_a, phone_number_id=NAMED_ID, display_number="+4930123456", access_token="token-x"
    )
    with schema_context(company_a.schema_name):
        number = PhoneNumber.objects.get(phone_number_id=NAMED_ID)
        thread = ThreadFactory(phone_number=number, contact__phone="+4915112345678", window_open=True)
        message = messages.message_send(thread=thread, sender=alice.user, type="text", text="Hallo")
        # when
        tasks.message_deliver_task.apply(args=[message.pk])
        message.refresh_from_db()
        # then
        assert message.status == Message.Status.SENT
    (request,) = stub.sends()
    assert request.path == f"/v25.0/{NAMED_ID}/messages"
