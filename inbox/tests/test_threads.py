from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import User
from conftest import Persona
from inbox.models import Message, Thread
from inbox.services import threads
from inbox.tests.factories import MessageFactory, ThreadFactory
from tenants.models import Company


def test_inbound_message_reopens_a_resolved_thread_and_counts_unread(tenant_a: Company) -> None:
    # given
    thread = ThreadFactory(status=Thread.Status.RESOLVED, resolved_at=timezone.now(), unread_count=0)
    message = MessageFactory(thread=thread, text="Is my flight on time?", provider_timestamp=timezone.now())
    # when
    threads.thread_record_inbound(thread=thread, message=message)
    # then
    thread.refresh_from_db()
    assert thread.status == Thread.Status.OPEN
    assert thread.resolved_at is None
    assert thread.unread_count == 1
    assert thread.last_message_preview == "Is my flight on time?"
    assert thread.last_inbound_at == message.provider_timestamp


def test_an_older_message_arriving_late_does_not_move_the_clocks_back(tenant_a: Company) -> None:
    # given
    now = timezone.now()
    thread = ThreadFactory(last_message_at=now - timedelta(hours=1))
    newer = MessageFactory(thread=thread, text="newer", provider_timestamp=now)
    older = MessageFactory(thread=thread, text="older", provider_timestamp=now - timedelta(minutes=5))
    threads.thread_record_inbound(thread=thread, message=newer)
    # when
    threads.thread_record_inbound(thread=thread, message=older)
    # then
    thread.refresh_from_db()
    assert thread.last_inbound_at == now
    assert thread.last_message_preview == "newer"
    assert thread.unread_count == 2


@pytest.mark.parametrize(
    ("age", "is_open"),
    [
        (timedelta(hours=1), True),
        (timedelta(hours=23, minutes=57), True),
        (timedelta(hours=23, minutes=59), False),  # inside the safety margin
        (timedelta(hours=25), False),
    ],
)
def test_window_is_24_hours_since_the_last_inbound_message_with_a_margin(
    tenant_a: Company, age: timedelta, is_open: bool
) -> None:
    thread = ThreadFactory(last_inbound_at=timezone.now() - age)
    assert threads.window_is_open(thread) is is_open


def test_window_is_closed_when_the_customer_never_wrote(tenant_a: Company) -> None:
    thread = ThreadFactory(last_inbound_at=None)
    assert threads.window_is_open(thread) is False
    assert threads.window_expires_at(thread) is None


def test_assign_and_unassign(tenant_a: Company, bob: Persona) -> None:
    thread = ThreadFactory()
    threads.thread_assign(thread=thread, assignee=bob.user)
    assert Thread.objects.get(pk=thread.pk).assignee_id == bob.user.pk
    threads.thread_assign(thread=thread, assignee=None)
    assert Thread.objects.get(pk=thread.pk).assignee_id is None


def test_assign_refuses_a_deactivated_agent(tenant_a: Company, bob: Persona) -> None:
    thread = ThreadFactory()
    User.objects.filter(pk=bob.user.pk).update(is_active=False)
    bob.user.refresh_from_db()
    with pytest.raises(ValidationError):
        threads.thread_assign(thread=thread, assignee=bob.user)


def test_snooze_needs_a_future_time_and_wakes_up(tenant_a: Company) -> None:
    # given
    thread = ThreadFactory()
    with pytest.raises(ValidationError):
        threads.thread_status_set(thread=thread, status="snoozed")
    with pytest.raises(ValidationError):
        threads.thread_status_set(thread=thread, status="snoozed", snoozed_until=timezone.now() - timedelta(minutes=1))
    threads.thread_status_set(thread=thread, status="snoozed", snoozed_until=timezone.now() + timedelta(hours=1))
    # when
    woken = threads.thread_wake_snoozed(now=timezone.now() + timedelta(hours=2))
    # then
    thread.refresh_from_db()
    assert woken == 1
    assert (thread.status, thread.snoozed_until) == ("open", None)


def test_resolve_records_the_time_and_reopen_clears_it(tenant_a: Company) -> None:
    thread = ThreadFactory()
    threads.thread_status_set(thread=thread, status="resolved")
    assert thread.resolved_at is not None
    threads.thread_status_set(thread=thread, status="open")
    assert thread.resolved_at is None


def test_unknown_status_is_refused(tenant_a: Company) -> None:
    with pytest.raises(ValidationError):
        threads.thread_status_set(thread=ThreadFactory(), status="archived")


def test_labels_are_replaced_by_name(tenant_a: Company) -> None:
    thread = ThreadFactory()
    threads.thread_labels_set(thread=thread, labels=["vip", "billing", " vip "])
    assert sorted(label.name for label in thread.labels.all()) == ["billing", "vip"]
    threads.thread_labels_set(thread=thread, labels=[])
    assert not thread.labels.exists()


def test_note_mentions_agents_by_first_name_or_email(tenant_a: Company, alice: Persona, bob: Persona) -> None:
    # when
    note = threads.note_create(
        thread=ThreadFactory(), author=alice.user, body="@bob can you check? cc @alice@acme.test"
    )
    # then
    assert {user.pk for user in note.mentions.all()} == {alice.user.pk, bob.user.pk}


def test_empty_note_is_refused(tenant_a: Company, alice: Persona) -> None:
    with pytest.raises(ValidationError):
        threads.note_create(thread=ThreadFactory(), author=alice.user, body="   ")


def test_mark_read_clears_the_badge(tenant_a: Company) -> None:
    thread = ThreadFactory(unread_count=3)
    threads.thread_mark_read(thread=thread)
    assert Thread.objects.get(pk=thread.pk).unread_count == 0


def test_outbound_message_updates_preview_but_not_the_window(tenant_a: Company) -> None:
    thread = ThreadFactory(last_inbound_at=timezone.now() - timedelta(hours=2))
    before = thread.last_inbound_at
    message = MessageFactory(thread=thread, direction=Message.Direction.OUTBOUND, status="queued", text="On our way!")
    threads.thread_record_outbound(thread=thread, message=message)
    thread.refresh_from_db()
    assert thread.last_message_preview == "On our way!"
    assert thread.last_inbound_at == before


def test_wake_task_reopens_due_threads_of_the_current_company(tenant_a: Company) -> None:
    # given
    from inbox import tasks

    thread = ThreadFactory(status=Thread.Status.SNOOZED, snoozed_until=timezone.now() - timedelta(minutes=1))
    # when
    tasks.thread_wake_snoozed_task.run()
    # then
    assert Thread.objects.get(pk=thread.pk).status == Thread.Status.OPEN


def test_an_item_that_does_not_open_the_window_leaves_it_alone(tenant_a: Company) -> None:
    # given
    opened = timezone.now() - timedelta(hours=30)
    thread = ThreadFactory(last_inbound_at=opened)
    message = MessageFactory(thread=thread, type=Message.Type.UNSUPPORTED, provider_timestamp=timezone.now())
    # when
    threads.thread_record_inbound(thread=thread, message=message, opens_window=False)
    # then
    thread.refresh_from_db()
    assert thread.last_inbound_at == opened
    assert thread.unread_count == 1


def test_the_first_message_of_a_new_thread_sets_its_preview(tenant_a: Company) -> None:
    # given: a thread made just now for a message the customer sent a moment earlier
    from inbox.tests.factories import ContactFactory, PhoneNumberFactory

    thread = threads.thread_get_or_create(contact=ContactFactory(), phone_number=PhoneNumberFactory())
    message = MessageFactory(thread=thread, text="Hello?", provider_timestamp=timezone.now() - timedelta(seconds=3))
    # when
    threads.thread_record_inbound(thread=thread, message=message)
    # then
    thread.refresh_from_db()
    assert thread.last_message_preview == "Hello?"
    assert thread.last_inbound_at == message.provider_timestamp
