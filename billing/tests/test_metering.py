"""Metering: one ledger row per delivered message, priced as WhatsApp bills since Jul 2025."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from billing.models import RatePrice, UsageDaily, UsageRecord
from billing.selectors import company_usage_period
from billing.services import market_of, usage_book
from inbox.models import Message, PhoneNumber
from inbox.tests.factories import MessageFactory, OutboundMessageFactory, ThreadFactory
from inbox.tests.webhook_payloads import (
    CUSTOMER,
    DISPLAY_B,
    NUMBER_B,
    connect,
    envelope_build,
    post_and_process,
    status_item,
)
from tenants.models import Company


@pytest.fixture
def number_b(company_b: Company) -> PhoneNumber:
    return connect(company_b, NUMBER_B, DISPLAY_B)


def _outbound(company: Company, number: PhoneNumber, *, category: str = "marketing", **kwargs: object) -> Message:
    with schema_context(company.schema_name):
        return OutboundMessageFactory(
            accepted=True,
            type=Message.Type.TEMPLATE,
            template_name="promo",
            template_category=category,
            thread=ThreadFactory(phone_number=number, contact__phone=CUSTOMER),
            **kwargs,
        )


def _report(client: Client, message: Message, *statuses: str) -> None:
    items = [status_item(wamid=str(message.wamid), status=s, recipient=CUSTOMER) for s in statuses]
    post_and_process(client, envelope_build(phone_number_id=NUMBER_B, statuses=items))


# --- booking through the real status webhooks ---------------------------------------------------------


def test_the_same_delivered_webhook_twice_books_one_row(
    public_client: Client, company_b: Company, number_b: PhoneNumber
) -> None:
    message = _outbound(company_b, number_b)
    _report(public_client, message, "delivered")
    _report(public_client, message, "delivered")
    _report(public_client, message, "read")
    record = UsageRecord.objects.get(company=company_b)
    assert record.message_id == message.public_id
    assert (record.category, record.market, record.unit_price, record.charged) == (
        "marketing",
        "DE",
        Decimal("0.1270"),
        True,
    )
    daily = UsageDaily.objects.get(company=company_b)
    assert (daily.count, daily.charged_count, daily.amount) == (1, 1, Decimal("0.1270"))


def test_duplicates_in_one_batch_book_once(public_client: Client, company_b: Company, number_b: PhoneNumber) -> None:
    message = _outbound(company_b, number_b)
    _report(public_client, message, "delivered", "delivered", "read", "read")
    assert UsageRecord.objects.filter(company=company_b).count() == 1
    assert UsageDaily.objects.get(company=company_b).count == 1


@pytest.mark.parametrize("statuses", [["sent"], ["failed"], ["sent", "failed"]])
def test_nothing_is_booked_before_delivery(
    public_client: Client, company_b: Company, number_b: PhoneNumber, statuses: list[str]
) -> None:
    message = _outbound(company_b, number_b)
    _report(public_client, message, *statuses)
    assert not UsageRecord.objects.exists()


def test_read_without_delivered_books_it(public_client: Client, company_b: Company, number_b: PhoneNumber) -> None:
    message = _outbound(company_b, number_b, category="authentication")
    _report(public_client, message, "read")
    record = UsageRecord.objects.get()
    assert (record.category, record.unit_price, record.charged) == ("authentication", Decimal("0.0510"), True)


def test_utility_inside_the_window_is_free_and_outside_charged(
    public_client: Client, company_b: Company, number_b: PhoneNumber
) -> None:
    # given two utility messages: one sent 1 h after the customer wrote, one 30 h after
    now = timezone.now()
    inside = _outbound(company_b, number_b, category="utility", sent_at=now)
    with schema_context(company_b.schema_name):
        MessageFactory(thread=inside.thread, direction="inbound")
        Message.objects.filter(thread=inside.thread, direction="inbound").update(created_at=now - timedelta(hours=1))
        outside = OutboundMessageFactory(
            accepted=True, type="template", template_category="utility", thread=inside.thread, sent_at=now
        )
        Message.objects.filter(pk=outside.pk).update(sent_at=now + timedelta(hours=29))
    # when both are delivered
    _report(public_client, inside, "delivered")
    _report(public_client, outside, "delivered")
    # then
    free = UsageRecord.objects.get(message_id=inside.public_id)
    charged = UsageRecord.objects.get(message_id=outside.public_id)
    assert (free.charged, free.reason, free.unit_price) == (False, "utility_in_window", Decimal("0"))
    assert (charged.charged, charged.reason, charged.unit_price) == (True, "charged", Decimal("0.0510"))


def test_free_form_reply_is_recorded_as_free_service(
    public_client: Client, company_b: Company, number_b: PhoneNumber
) -> None:
    with schema_context(company_b.schema_name):
        message = OutboundMessageFactory(
            accepted=True, type="text", thread=ThreadFactory(phone_number=number_b, contact__phone=CUSTOMER)
        )
    _report(public_client, message, "delivered")
    record = UsageRecord.objects.get()
    assert (record.category, record.charged, record.unit_price, record.reason) == (
        "service",
        False,
        Decimal("0"),
        "free_customer_service",
    )


def test_free_plan_records_usage_included_in_the_plan(company_a: Company) -> None:
    record = usage_book(company=company_a, message_id=_uuid(), category="marketing", phone=CUSTOMER, window_open=False)
    assert record is not None
    assert (record.charged, record.reason, record.unit_price) == (False, "included_in_plan", Decimal("0"))


# --- pricing rules and markets --------------------------------------------------------------------------


def _uuid() -> str:
    import uuid

    return str(uuid.uuid4())


@pytest.mark.parametrize(
    ("category", "phone", "window_open", "price", "charged"),
    [
        ("marketing", "+4915112345678", True, "0.1270", True),  # marketing: charged even in the window
        ("marketing", "+919876543210", False, "0.0100", True),
        ("authentication", "+12025550123", True, "0.0125", True),
        ("utility", "+5511987654321", False, "0.0074", True),
        ("utility", "+5511987654321", True, "0", False),
        ("service", "+4915112345678", True, "0", False),
        ("marketing", "+33612345678", False, "0.0550", True),  # no FR row: the default market
    ],
)
def test_pricing_rules(
    company_b: Company, category: str, phone: str, window_open: bool, price: str, charged: bool
) -> None:
    record = usage_book(company=company_b, message_id=_uuid(), category=category, phone=phone, window_open=window_open)
    assert record is not None
    assert (record.unit_price, record.charged) == (Decimal(price), charged)


def test_markets_from_the_recipients_number() -> None:
    assert [market_of(p) for p in ("+4915112345678", "+12025550123", "+919876543210", "garbage")] == [
        "DE",
        "US",
        "IN",
        "*",
    ]


def test_a_later_rate_change_leaves_booked_prices_alone(company_b: Company) -> None:
    first = usage_book(company=company_b, message_id=_uuid(), category="marketing", phone=CUSTOMER, window_open=False)
    RatePrice.objects.filter(plan=company_b.plan, category="marketing", market="DE").update(unit_price=Decimal("0.2"))
    second = usage_book(company=company_b, message_id=_uuid(), category="marketing", phone=CUSTOMER, window_open=False)
    assert first is not None
    assert second is not None
    first.refresh_from_db()
    assert (first.unit_price, second.unit_price) == (Decimal("0.1270"), Decimal("0.2000"))
    usage = company_usage_period(company=company_b)
    assert usage["by_category"]["marketing"] == {"count": 2, "charged": 2, "amount": Decimal("0.33")}


def test_booking_twice_directly_returns_none_the_second_time(company_b: Company) -> None:
    message_id = _uuid()
    assert usage_book(company=company_b, message_id=message_id, category="utility", phone=CUSTOMER, window_open=False)
    assert (
        usage_book(company=company_b, message_id=message_id, category="utility", phone=CUSTOMER, window_open=False)
        is None
    )
    assert UsageDaily.objects.get(company=company_b).count == 1


# --- append-only ----------------------------------------------------------------------------------------------


def test_the_ledger_is_append_only(company_b: Company) -> None:
    record = usage_book(company=company_b, message_id=_uuid(), category="marketing", phone=CUSTOMER, window_open=False)
    assert record is not None
    record.unit_price = Decimal("0")
    with pytest.raises(ValidationError):
        record.save()
    with pytest.raises(ValidationError):
        record.delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        UsageRecord.objects.filter(pk=record.pk).update(unit_price=Decimal("0"))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        UsageRecord.objects.filter(pk=record.pk).delete()
    assert UsageRecord.objects.get(pk=record.pk).unit_price == Decimal("0.1270")
