"""Greeting and away messages: who gets them, once per customer per period, idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from automation import services
from automation.models import AutoReply, ContactAutomation
from automation.tests.helpers import AWAY, GREETING, auto_replies, inbound, settings_set, weekdays_nine_to_five
from inbox.models import Message, Thread
from inbox.tests.factories import ContactFactory, MessageFactory, ThreadFactory
from tenants.models import Company

# A Sunday, and a Monday morning in business hours (UTC).
SUNDAY_NIGHT = datetime(2026, 6, 7, 22, 0, tzinfo=UTC)
MONDAY_TEN = datetime(2026, 6, 8, 10, 0, tzinfo=UTC)


def test_the_first_message_ever_gets_the_greeting(tenant_a: Company) -> None:
    # given
    settings_set(greeting_enabled=True)
    message = inbound()
    # when
    records = services.inbound_automation_run(message_id=message.pk)
    # then
    assert auto_replies(message.thread) == [("greeting", GREETING)]
    sent = Message.objects.get(direction=Message.Direction.OUTBOUND)
    assert (sent.sent_by, sent.status, sent.type) == (None, Message.Status.QUEUED, Message.Type.TEXT)
    assert [(r.kind, r.sent_message_id) for r in records] == [("greeting", sent.pk)]


def test_a_returning_customer_gets_no_greeting(tenant_a: Company) -> None:
    # given: the customer wrote before (before the greeting was switched on)
    settings_set(greeting_enabled=True)
    first = inbound()
    second = inbound(thread=first.thread)
    # when
    services.inbound_automation_run(message_id=second.pk)
    # then
    assert auto_replies(first.thread) == []


def test_a_first_message_on_a_second_number_is_not_a_first_contact(tenant_a: Company) -> None:
    # given
    settings_set(greeting_enabled=True)
    contact = ContactFactory()
    inbound(contact=contact)
    other = inbound(contact=contact)  # a new thread on another number
    # when
    services.inbound_automation_run(message_id=other.pk)
    # then
    assert auto_replies(other.thread) == []


def test_the_greeting_is_off_by_default(tenant_a: Company) -> None:
    message = inbound()
    assert services.inbound_automation_run(message_id=message.pk) == []
    assert auto_replies(message.thread) == []


def test_outside_hours_the_customer_gets_the_away_message(tenant_a: Company) -> None:
    # given
    settings_set(away_enabled=True)
    weekdays_nine_to_five()
    message = inbound(at=SUNDAY_NIGHT)
    # when
    services.inbound_automation_run(message_id=message.pk, now=SUNDAY_NIGHT)
    # then
    assert auto_replies(message.thread) == [("away", AWAY)]


def test_inside_hours_no_away_message(tenant_a: Company) -> None:
    settings_set(away_enabled=True)
    weekdays_nine_to_five()
    message = inbound(at=MONDAY_TEN)
    services.inbound_automation_run(message_id=message.pk, now=MONDAY_TEN)
    assert auto_replies(message.thread) == []


def test_a_first_contact_outside_hours_gets_both(tenant_a: Company) -> None:
    settings_set(greeting_enabled=True, away_enabled=True)
    weekdays_nine_to_five()
    message = inbound(at=SUNDAY_NIGHT)
    services.inbound_automation_run(message_id=message.pk, now=SUNDAY_NIGHT)
    assert auto_replies(message.thread) == [("greeting", GREETING), ("away", AWAY)]


def test_the_away_message_goes_once_per_customer_per_period(tenant_a: Company) -> None:
    # given
    settings_set(away_enabled=True, away_cooldown_hours=12)
    weekdays_nine_to_five()
    thread = ThreadFactory(window_open=True)
    first = inbound(thread=thread, at=SUNDAY_NIGHT)
    services.inbound_automation_run(message_id=first.pk, now=SUNDAY_NIGHT)
    # when: more messages that night, then one on Saturday (after the period, outside hours)
    for minutes in (1, 30, 90):
        at = SUNDAY_NIGHT + timedelta(minutes=minutes)
        services.inbound_automation_run(message_id=inbound(thread=thread, at=at).pk, now=at)
    replies_that_night = auto_replies(thread)
    saturday = SUNDAY_NIGHT + timedelta(days=6)
    services.inbound_automation_run(message_id=inbound(thread=thread, at=saturday).pk, now=saturday)
    # then
    assert replies_that_night == [("away", AWAY)]
    assert auto_replies(thread) == [("away", AWAY), ("away", AWAY)]
    held = AutoReply.objects.filter(skipped_reason="period").count()
    assert held == 3


def test_the_period_ends_exactly_after_the_configured_hours(tenant_a: Company) -> None:
    settings_set(away_enabled=True, away_cooldown_hours=2)
    weekdays_nine_to_five()
    thread = ThreadFactory(window_open=True)
    services.inbound_automation_run(message_id=inbound(thread=thread, at=SUNDAY_NIGHT).pk, now=SUNDAY_NIGHT)
    just_before = SUNDAY_NIGHT + timedelta(hours=2) - timedelta(seconds=1)
    services.inbound_automation_run(message_id=inbound(thread=thread, at=just_before).pk, now=just_before)
    assert len(auto_replies(thread)) == 1
    on_time = SUNDAY_NIGHT + timedelta(hours=2)
    services.inbound_automation_run(message_id=inbound(thread=thread, at=on_time).pk, now=on_time)
    assert len(auto_replies(thread)) == 2
    assert ContactAutomation.objects.get(contact=thread.contact).away_sent_at == on_time


def test_running_twice_for_one_message_sends_once(tenant_a: Company) -> None:
    # given: the task is delivered again (late ack), even after the period has passed
    settings_set(greeting_enabled=True, away_enabled=True, away_cooldown_hours=1)
    weekdays_nine_to_five()
    message = inbound(at=SUNDAY_NIGHT)
    services.inbound_automation_run(message_id=message.pk, now=SUNDAY_NIGHT)
    # when
    again = services.inbound_automation_run(message_id=message.pk, now=SUNDAY_NIGHT + timedelta(days=3))
    # then
    assert again == []
    assert len(auto_replies(message.thread)) == 2


def test_the_away_decision_uses_the_time_the_customer_wrote(tenant_a: Company) -> None:
    # A message written on Sunday night but processed on Monday morning still gets the away message.
    settings_set(away_enabled=True)
    weekdays_nine_to_five()
    message = inbound(at=SUNDAY_NIGHT)
    services.inbound_automation_run(message_id=message.pk, now=MONDAY_TEN)
    assert auto_replies(message.thread) == [("away", AWAY)]


def test_a_closed_window_holds_the_reply_and_keeps_the_claim_free(tenant_a: Company) -> None:
    # given: an old message replayed long after the window closed
    settings_set(greeting_enabled=True)
    thread = ThreadFactory(last_inbound_at=timezone.now() - timedelta(days=3))
    message = MessageFactory(thread=thread, provider_timestamp=timezone.now() - timedelta(days=3))
    # when
    services.inbound_automation_run(message_id=message.pk)
    # then
    assert auto_replies(thread) == []
    assert AutoReply.objects.get(inbound=message).skipped_reason == "window_closed"
    assert ContactAutomation.objects.get(contact=thread.contact).greeted_at is None


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({"text": "STOP"}, "keyword"),
        ({"text": "start"}, "keyword"),
        ({"type": Message.Type.REACTION, "text": "", "payload": {"emoji": "👍"}}, "reaction"),
        ({"type": Message.Type.UNSUPPORTED, "text": ""}, "unsupported"),
    ],
)
def test_keywords_reactions_and_unsupported_items_get_no_reply(
    tenant_a: Company, changes: dict[str, Any], kind: str
) -> None:
    settings_set(greeting_enabled=True)
    thread = ThreadFactory(window_open=True)
    message = MessageFactory(thread=thread, provider_timestamp=timezone.now(), **changes)
    services.inbound_automation_run(message_id=message.pk)
    assert auto_replies(thread) == [], kind


def test_an_opted_out_customer_gets_no_reply(tenant_a: Company) -> None:
    settings_set(greeting_enabled=True)
    thread = ThreadFactory(window_open=True, contact=ContactFactory(opted_out=True))
    message = inbound(thread=thread)
    services.inbound_automation_run(message_id=message.pk)
    assert auto_replies(thread) == []


def test_an_enabled_reply_needs_its_text(tenant_a: Company) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        settings_set(greeting_enabled=True, greeting_text="  ", away_cooldown_hours=0)
    assert set(caught.value.message_dict) == {"greeting_text", "away_cooldown_hours"}


def test_an_outbound_message_id_is_ignored(tenant_a: Company) -> None:
    settings_set(greeting_enabled=True)
    thread = ThreadFactory(window_open=True)
    sent = MessageFactory(thread=thread, direction=Message.Direction.OUTBOUND, status="sent")
    assert services.inbound_automation_run(message_id=sent.pk) == []
    assert Thread.objects.get(pk=thread.pk).assignee is None
