"""Delivery reports: forward only, failed is final unless delivered/read, reconciliation."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from inbox.models import ConsentEvent, Message, PhoneNumber
from inbox.tests.factories import OutboundMessageFactory, ThreadFactory
from inbox.tests.webhook_payloads import (
    CUSTOMER,
    DISPLAY_A,
    NUMBER_A,
    connect,
    envelope_build,
    post_and_process,
    status_item,
)
from tenants.models import Company


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


@pytest.fixture
def sent(company_a: Company, number_a: PhoneNumber) -> Message:
    with schema_context(company_a.schema_name):
        return OutboundMessageFactory(
            accepted=True, thread=ThreadFactory(phone_number=number_a, contact__phone=CUSTOMER)
        )


def _report(client: Client, message: Message, *statuses: str, **extra: object) -> None:
    items = [status_item(wamid=str(message.wamid), status=s, recipient=CUSTOMER, **extra) for s in statuses]
    post_and_process(client, envelope_build(phone_number_id=NUMBER_A, statuses=items))


def _reload(company: Company, message: Message) -> Message:
    with schema_context(company.schema_name):
        return Message.objects.get(pk=message.pk)


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (["delivered"], "delivered"),
        (["delivered", "read"], "read"),
        (["read", "delivered"], "read"),
        (["read", "sent", "delivered", "read"], "read"),
        (["read", "failed"], "read"),
        (["delivered", "failed"], "delivered"),
        (["failed", "delivered"], "failed"),
    ],
)
def test_status_only_moves_forward(
    public_client: Client, company_a: Company, sent: Message, statuses: list[str], expected: str
) -> None:
    # when: every report in its own webhook, in this order
    for status in statuses:
        _report(public_client, sent, status)
    # then
    assert _reload(company_a, sent).status == expected


def test_reports_in_one_batch_and_duplicates_are_harmless(
    public_client: Client, company_a: Company, sent: Message
) -> None:
    # when
    _report(public_client, sent, "read", "delivered", "delivered", "sent", "read")
    # then
    message = _reload(company_a, sent)
    assert message.status == Message.Status.READ
    assert message.read_at is not None
    assert message.delivered_at is not None


def test_failed_stores_the_error(public_client: Client, company_a: Company, sent: Message) -> None:
    # when
    _report(public_client, sent, "failed", errors=[{
        "code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
        "error_data": {"details": "Message failed to send because more than 24 hours have passed."}}])  # fmt: skip
    # then
    message = _reload(company_a, sent)
    assert message.status == Message.Status.FAILED
    assert message.error_code == 131047
    assert message.error_title == "Re-engagement message"
    assert "more than 24 hours have passed" in message.error_detail


def test_unknown_wamid_is_ignored(public_client: Client, company_a: Company, sent: Message) -> None:
    # when
    post_and_process(
        public_client,
        envelope_build(phone_number_id=NUMBER_A, statuses=[status_item(wamid="wamid.NOPE", status="read",
                                                                         recipient=CUSTOMER)]),
    )  # fmt: skip
    # then
    assert _reload(company_a, sent).status == Message.Status.SENT


def test_callback_data_reconciles_a_message_whose_send_answer_was_lost(
    public_client: Client, company_a: Company, number_a: PhoneNumber
) -> None:
    # given: the send timed out, so we never learnt the wamid
    with schema_context(company_a.schema_name):
        lost = OutboundMessageFactory(
            status=Message.Status.UNKNOWN, status_rank=1, thread=ThreadFactory(phone_number=number_a)
        )
    item = status_item(wamid="wamid.LATE", status="delivered", recipient=CUSTOMER, callback_data=str(lost.public_id))
    # when
    post_and_process(public_client, envelope_build(phone_number_id=NUMBER_A, statuses=[item]))
    # then
    message = _reload(company_a, lost)
    assert (message.status, message.wamid) == (Message.Status.DELIVERED, "wamid.LATE")


def test_failed_131050_records_a_marketing_opt_out(public_client: Client, company_a: Company, sent: Message) -> None:
    # when
    _report(public_client, sent, "failed", errors=[{"code": 131050, "title": "User stopped marketing"}])
    # then
    with schema_context(company_a.schema_name):
        contact = Message.objects.get(pk=sent.pk).thread.contact
        assert contact.marketing_opted_out is True
        assert contact.opted_out is False
        event = ConsentEvent.objects.get(contact=contact)
        assert (event.action, event.purpose, event.source) == ("opt_out", "marketing", "provider_error")


def test_a_report_that_overtakes_its_send_record_is_retried_until_the_message_exists(
    company_a: Company, number_a: PhoneNumber, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a broadcast send answered but not recorded yet; its report arrives first
    from unittest import mock

    from inbox.services import messages
    from tenants.inbound import StatusUpdate

    future_id = "5b0c64a6-7a39-4bd4-9f1c-0d3f1e1f0a01"
    item = StatusUpdate(phone_number_id=NUMBER_A, wamid="wamid.EARLY", status="delivered", callback_data=future_id)
    with (
        schema_context(company_a.schema_name),
        mock.patch.object(messages.tasks.message_status_retry_task, "apply_async") as retry,
    ):
        # when
        with django_capture_on_commit_callbacks(execute=True):
            assert messages.message_status_apply(item=item) is None
        # then: tried again shortly, the report kept
        (args,), kwargs = retry.call_args
        assert args[1] == 1
        assert kwargs["countdown"] == 2
        # when the chunk has recorded the send and the retry runs
        OutboundMessageFactory(public_id=future_id, wamid="wamid.EARLY", thread=ThreadFactory(phone_number=number_a))
        applied = messages.message_status_retry(payload=args[0], attempt=args[1])
        # then
        assert applied is not None
        assert applied.status == Message.Status.DELIVERED
        assert retry.call_count == 1


def test_an_early_report_is_dropped_after_the_last_retry(
    company_a: Company, number_a: PhoneNumber, django_capture_on_commit_callbacks: Any
) -> None:
    # given: a report whose send was never recorded (its worker died before the flush)
    from unittest import mock

    from inbox.services import messages
    from tenants.inbound import StatusUpdate

    item = StatusUpdate(
        phone_number_id=NUMBER_A,
        wamid="wamid.ORPHAN",
        status="sent",
        callback_data="5b0c64a6-7a39-4bd4-9f1c-0d3f1e1f0a02",
    )
    with (
        schema_context(company_a.schema_name),
        mock.patch.object(messages.tasks.message_status_retry_task, "apply_async") as retry,
    ):
        # when
        with django_capture_on_commit_callbacks(execute=True):
            messages.message_status_apply(item=item, attempt=messages.EARLY_STATUS_RETRIES)
        # then
        assert retry.call_count == 0
