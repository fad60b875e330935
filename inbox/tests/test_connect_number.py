"""`manage.py connect_number` and `sandbox_customer_says`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from inbox.models import Message, PhoneNumber
from inbox.services import numbers
from tenants.models import Company, PhoneNumberRoute


def _run(*args: str) -> str:
    out = StringIO()
    call_command("connect_number", *args, stdout=out)
    return out.getvalue()


def test_connects_the_number_and_confirms_on_the_last_line(company_a: Company) -> None:
    # when
    out = _run("acme", "--phone-number-id", "770000000000001", "--display-number", "+49 30 1234 5601",
               "--access-token", "EAAG-token")  # fmt: skip
    # then
    assert out.strip().splitlines()[-1] == "Connected +493012345601 (phone_number_id 770000000000001) to acme."
    assert PhoneNumberRoute.objects.get(phone_number_id="770000000000001").company == company_a
    with schema_context(company_a.schema_name):
        number = PhoneNumber.objects.get()
        assert (number.display_number, number.access_token) == ("+493012345601", "EAAG-token")


def test_unknown_company_fails_with_one_line(db: None) -> None:
    with pytest.raises(CommandError, match="Unknown company 'nope'") as excinfo:
        _run("nope", "--phone-number-id", "770000000000001", "--display-number", "+493012345601")
    assert "\n" not in str(excinfo.value)
    assert not PhoneNumberRoute.objects.exists()


@pytest.mark.parametrize("slug", ["acme", "globex"])
def test_a_number_connected_anywhere_is_refused_and_nothing_changes(
    company_a: Company, company_b: Company, slug: str
) -> None:
    # given
    numbers.phone_number_connect(company=company_a, phone_number_id="770000000000001", display_number="+493012345601")
    # when / then
    with pytest.raises(CommandError, match="already connected") as excinfo:
        _run(slug, "--phone-number-id", "770000000000001", "--display-number", "+493012345699")
    assert "\n" not in str(excinfo.value)
    assert PhoneNumberRoute.objects.get().company == company_a
    with schema_context(company_a.schema_name):
        assert PhoneNumber.objects.get().display_number == "+493012345601"
    with schema_context(company_b.schema_name):
        assert not PhoneNumber.objects.exists()


@pytest.mark.parametrize(
    ("phone_number_id", "display", "reason"),
    [
        ("770/001", "+493012345601", "letters, digits, dots, dashes or underscores"),
        ("770 001", "+493012345601", "letters, digits, dots, dashes or underscores"),
        ("..", "+493012345601", "letters, digits, dots, dashes or underscores"),
        ("770000000000001", "12", "international format"),
    ],
)
def test_malformed_input_is_refused(company_a: Company, phone_number_id: str, display: str, reason: str) -> None:
    with pytest.raises(CommandError, match=reason):
        _run("acme", "--phone-number-id", phone_number_id, "--display-number", display)
    assert not PhoneNumberRoute.objects.exists()


def test_disconnect_stops_routing_and_allows_connecting_elsewhere(company_a: Company, company_b: Company) -> None:
    # given
    number = numbers.phone_number_connect(company=company_a, phone_number_id="770000000000001",
                                          display_number="+493012345601")  # fmt: skip
    # when
    numbers.phone_number_disconnect(company=company_a, phone_number=number)
    _run("globex", "--phone-number-id", "770000000000001", "--display-number", "+493012345601")
    # then
    assert PhoneNumberRoute.objects.get().company == company_b
    with schema_context(company_a.schema_name):
        assert not PhoneNumber.objects.exists()


def test_sandbox_customer_says_plays_an_inbound_message(company_a: Company) -> None:
    # given
    _run("acme", "--phone-number-id", "770000000000001", "--display-number", "+493012345601")
    out = StringIO()
    # when
    call_command("sandbox_customer_says", "acme", "--from", "+4915112345678", "--text", "Hallo!", stdout=out)
    # then
    assert "said 'Hallo!'" in out.getvalue()
    with schema_context(company_a.schema_name):
        message = Message.objects.select_related("thread__contact").get()
        assert (message.text, message.thread.contact.phone) == ("Hallo!", "+4915112345678")
