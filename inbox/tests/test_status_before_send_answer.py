"""A delivery report without our callback id that arrives before the send recorded its wamid."""

from __future__ import annotations

import logging
from typing import Any
from unittest import mock

import pytest
from django_tenants.utils import schema_context

from inbox.models import Message, PhoneNumber
from inbox.services import messages
from inbox.tests.factories import OutboundMessageFactory, ThreadFactory
from inbox.tests.webhook_payloads import DISPLAY_A, NUMBER_A, connect
from tenants.inbound import StatusUpdate
from tenants.models import Company


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


def _early(wamid: str, status: str = "delivered") -> StatusUpdate:
    return StatusUpdate(phone_number_id=NUMBER_A, wamid=wamid, status=status)


def test_a_report_without_callback_id_waits_for_the_send_answer(
    company_a: Company, number_a: PhoneNumber, django_capture_on_commit_callbacks: Any
) -> None:
    # given: our send is in flight (claimed, no wamid yet); the provider posts `delivered` first
    with (
        schema_context(company_a.schema_name),
        mock.patch.object(messages.tasks.message_status_retry_task, "apply_async") as retry,
    ):
        message = OutboundMessageFactory(thread=ThreadFactory(phone_number=number_a))
        Message.objects.filter(pk=message.pk).update(
            status=Message.Status.UNKNOWN, status_rank=messages.RANK[Message.Status.UNKNOWN], wamid=None
        )
        # when
        with django_capture_on_commit_callbacks(execute=True):
            assert messages.message_status_apply(item=_early("wamid.FAST")) is None
        # then: tried again shortly, the report kept
        (args,), kwargs = retry.call_args
        assert (args[1], kwargs["countdown"]) == (1, 2)
        # when the send answer is recorded and the retry runs
        messages._accepted(message, messages.Accepted(wamid="wamid.FAST", message_status="accepted"))
        with django_capture_on_commit_callbacks(execute=True):
            applied = messages.message_status_retry(payload=args[0], attempt=args[1])
        # then
        assert applied is not None
        assert applied.status == Message.Status.DELIVERED
        assert applied.delivered_at is not None
        assert retry.call_count == 1


def test_a_report_for_a_wamid_nobody_records_is_retried_about_a_minute_then_dropped(
    company_a: Company,
    number_a: PhoneNumber,
    django_capture_on_commit_callbacks: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given
    item = _early("wamid.NEVER")
    countdowns: list[int] = []
    with (
        schema_context(company_a.schema_name),
        mock.patch.object(messages.tasks.message_status_retry_task, "apply_async") as retry,
        caplog.at_level(logging.INFO, logger="inbox.services.messages"),
    ):
        # when: every retry runs, and the message never appears
        payload, attempt = messages._status_payload(item), 0
        while True:
            retry.reset_mock()
            with django_capture_on_commit_callbacks(execute=True):
                assert messages.message_status_retry(payload=payload, attempt=attempt) is None
            if not retry.called:
                break
            (args,), kwargs = retry.call_args
            payload, attempt = args
            countdowns.append(kwargs["countdown"])
    # then: a few attempts spread over about a minute, then one log line
    assert len(countdowns) == messages.UNKNOWN_WAMID_STATUS_RETRIES
    assert 30 <= sum(countdowns) <= 120
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 1
    assert "wamid.NEVER" in dropped[0].getMessage()
    assert dropped[0].levelno == logging.WARNING


def test_a_report_for_a_known_message_that_is_not_newer_is_not_retried(
    company_a: Company, number_a: PhoneNumber, django_capture_on_commit_callbacks: Any
) -> None:
    # given: already read
    with (
        schema_context(company_a.schema_name),
        mock.patch.object(messages.tasks.message_status_retry_task, "apply_async") as retry,
    ):
        message = OutboundMessageFactory(accepted=True, thread=ThreadFactory(phone_number=number_a))
        messages.message_status_apply(item=_early(str(message.wamid), "read"))
        # when
        with django_capture_on_commit_callbacks(execute=True):
            assert messages.message_status_apply(item=_early(str(message.wamid), "delivered")) is None
        # then
        assert retry.call_count == 0
