"""Send later: scheduling, the due scan (once, even with two scanners), cancel, and the
24-hour window checked at send time (inbox/services/scheduled.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import Persona
from inbox import selectors, tasks
from inbox.models import Contact, Message, PhoneNumber, Thread
from inbox.providers.errors import WINDOW_CLOSED_CODE
from inbox.services import scheduled
from inbox.tests.api_helpers import post_json
from inbox.tests.browser import committed_db  # noqa: F401 - fixture
from inbox.tests.factories import PhoneNumberFactory, TemplateFactory, ThreadFactory
from inbox.tests.webhook_payloads import DISPLAY_A, NUMBER_A, connect
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


@pytest.fixture
def open_thread(tenant_a: Company, number_a: PhoneNumber) -> Thread:
    return ThreadFactory(phone_number=number_a, window_open=True)


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The message ids handed to message_deliver_task (after commit), instead of a broker."""
    sent: list[int] = []
    lock = threading.Lock()

    def record(message_id: int) -> None:
        with lock:
            sent.append(message_id)

    monkeypatch.setattr(tasks.message_deliver_task, "delay_on_commit", record)
    return sent


def _in(minutes: float) -> Any:
    return timezone.now() + timedelta(minutes=minutes)


def _make_due(message: Message) -> None:
    Message.objects.filter(pk=message.pk).update(send_at=timezone.now() - timedelta(seconds=1))


def _deliver(message: Message) -> None:
    tasks.message_deliver_task.run(*json.loads(json.dumps([message.pk])))


# --- scheduling ---------------------------------------------------------------------------------


def test_a_scheduled_reply_waits_out_of_the_timeline_and_nothing_is_enqueued(
    alice: Persona, open_thread: Thread, enqueued: list[int]
) -> None:
    # when
    message = scheduled.message_schedule(
        thread=open_thread, sender=alice.user, send_at=_in(60), type="text", text=" See you at 8 "
    )
    # then
    assert message.status == Message.Status.SCHEDULED
    assert message.text == "See you at 8"
    assert enqueued == []
    assert list(scheduled.scheduled_list_for_thread(thread=open_thread)) == [message]
    assert selectors.message_page_for_thread(thread=open_thread, before=None, size=10) == []
    open_thread.refresh_from_db()
    assert open_thread.last_message_preview == ""


@pytest.mark.parametrize(
    ("send_at", "kind", "field"),
    [
        (lambda: timezone.now() - timedelta(minutes=5), "text", "send_at"),
        (lambda: timezone.now() + timedelta(seconds=5), "text", "send_at"),
        (lambda: timezone.now() + timedelta(days=400), "text", "send_at"),
        (lambda: timezone.now().replace(tzinfo=None) + timedelta(hours=1), "text", "send_at"),
        (lambda: timezone.now() + timedelta(hours=1), "image", "type"),
    ],
    ids=["past", "too-soon", "too-far", "naive", "image"],
)
def test_a_bad_time_or_type_is_refused_and_nothing_is_stored(
    alice: Persona, open_thread: Thread, send_at: Callable[[], Any], kind: str, field: str
) -> None:
    # when
    with pytest.raises(ValidationError) as refused:
        scheduled.message_schedule(thread=open_thread, sender=alice.user, send_at=send_at(), type=kind, text="Hi")
    # then
    assert field in refused.value.message_dict
    assert not Message.objects.filter(thread=open_thread).exists()


# --- the due scan -------------------------------------------------------------------------------


def test_the_scan_sends_only_due_messages_and_they_enter_the_conversation_then(
    alice: Persona, open_thread: Thread, enqueued: list[int]
) -> None:
    # given one due and one later
    due = scheduled.message_schedule(thread=open_thread, sender=alice.user, send_at=_in(2), type="text", text="Due")
    later = scheduled.message_schedule(thread=open_thread, sender=alice.user, send_at=_in(90), type="text", text="L")
    _make_due(due)
    # when
    claimed = scheduled.scheduled_messages_send_due()
    # then
    assert claimed == 1
    assert enqueued == [due.pk]
    due.refresh_from_db()
    later.refresh_from_db()
    assert due.status == Message.Status.QUEUED
    assert due.created_at > due.status_at - timedelta(seconds=1)
    assert later.status == Message.Status.SCHEDULED
    open_thread.refresh_from_db()
    assert open_thread.last_message_preview == "Due"
    assert [m.pk for m in selectors.message_page_for_thread(thread=open_thread, before=None, size=10)] == [due.pk]
    # and the ordinary delivery sends it
    _deliver(due)
    due.refresh_from_db()
    assert due.status == Message.Status.SENT
    # and a second scan finds nothing
    assert scheduled.scheduled_messages_send_due() == 0
    assert enqueued == [due.pk]


def test_a_text_whose_window_closed_fails_with_the_reason_instead_of_going_out(
    alice: Persona, open_thread: Thread, enqueued: list[int]
) -> None:
    # given a reply scheduled while the window was open, which closes before it is due
    message = scheduled.message_schedule(
        thread=open_thread, sender=alice.user, send_at=_in(5), type="text", text="Still there?"
    )
    Thread.objects.filter(pk=open_thread.pk).update(last_inbound_at=timezone.now() - timedelta(hours=25))
    _make_due(message)
    # when
    scheduled.scheduled_messages_send_due()
    # then
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.error_code == WINDOW_CLOSED_CODE
    assert "24-hour window" in message.error_detail
    assert enqueued == []
    assert message.wamid is None
    # and it shows in the timeline as failed, with the reason
    assert [m.pk for m in selectors.message_page_for_thread(thread=open_thread, before=None, size=10)] == [message.pk]


def test_a_template_goes_out_although_the_window_is_closed(
    alice: Persona, tenant_a: Company, number_a: PhoneNumber, enqueued: list[int]
) -> None:
    # given a thread whose customer wrote two days ago
    thread = ThreadFactory(phone_number=number_a, last_inbound_at=timezone.now() - timedelta(days=2))
    TemplateFactory(name="table_ready", body="Your table is ready, {{1}}.")
    message = scheduled.message_schedule(
        thread=thread,
        sender=alice.user,
        send_at=_in(10),
        type="template",
        template={"name": "table_ready", "language": "en"},
        template_parameters=["Dora"],
    )
    assert message.text == "Your table is ready, Dora."
    _make_due(message)
    # when
    scheduled.scheduled_messages_send_due()
    _deliver(message)
    # then
    message.refresh_from_db()
    assert enqueued == [message.pk]
    assert message.status == Message.Status.SENT
    assert message.wamid


def test_a_template_to_a_contact_who_opted_out_meanwhile_fails_and_is_not_sent(
    alice: Persona, tenant_a: Company, number_a: PhoneNumber, enqueued: list[int]
) -> None:
    # given
    thread = ThreadFactory(phone_number=number_a, window_open=True)
    TemplateFactory(name="reminder", body="Reminder")
    message = scheduled.message_schedule(
        thread=thread,
        sender=alice.user,
        send_at=_in(10),
        type="template",
        template={"name": "reminder", "language": "en"},
    )
    Contact.objects.filter(pk=thread.contact_id).update(opted_out=True)
    _make_due(message)
    # when
    scheduled.scheduled_messages_send_due()
    # then
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert "opted out" in message.error_detail
    assert enqueued == []


# --- cancel -------------------------------------------------------------------------------------


def test_a_cancelled_message_is_never_sent_and_cannot_be_cancelled_twice(
    alice: Persona, open_thread: Thread, enqueued: list[int]
) -> None:
    # given
    message = scheduled.message_schedule(thread=open_thread, sender=alice.user, send_at=_in(5), type="text", text="x")
    # when
    scheduled.message_cancel_scheduled(message=message)
    _make_due(message)
    claimed = scheduled.scheduled_messages_send_due()
    # then
    message.refresh_from_db()
    assert message.status == Message.Status.CANCELLED
    assert claimed == 0
    assert enqueued == []
    assert selectors.message_page_for_thread(thread=open_thread, before=None, size=10) == []
    with pytest.raises(scheduled.ScheduleError):
        scheduled.message_cancel_scheduled(message=message)


def test_a_message_already_sent_cannot_be_cancelled(alice: Persona, open_thread: Thread, enqueued: list[int]) -> None:
    # given
    message = scheduled.message_schedule(thread=open_thread, sender=alice.user, send_at=_in(5), type="text", text="x")
    _make_due(message)
    scheduled.scheduled_messages_send_due()
    # when / then
    with pytest.raises(scheduled.ScheduleError):
        scheduled.message_cancel_scheduled(message=message)
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED


# --- two scanners at once -----------------------------------------------------------------------

SCANNERS = 2
DUE = 30


@pytest.fixture
def committed_due(personas: dict[str, Persona], committed_db: None) -> Iterator[tuple[Company, list[int]]]:  # noqa: F811
    """DUE scheduled messages, committed (two scanner threads must see them); cleaned up after."""
    alice = personas["alice"]
    company = alice.company
    with schema_context(company.schema_name):
        number = PhoneNumberFactory()
        threads = [ThreadFactory(phone_number=number, window_open=True) for _ in range(3)]
        ids = [
            scheduled.message_schedule(
                thread=threads[i % 3], sender=alice.user, send_at=_in(5), type="text", text=f"m{i}"
            ).pk
            for i in range(DUE)
        ]
        Message.objects.filter(pk__in=ids).update(send_at=timezone.now() - timedelta(seconds=1))
    try:
        yield company, ids
    finally:
        with schema_context(company.schema_name):
            Contact.objects.filter(threads__phone_number=number).delete()
            number.delete()


def test_two_concurrent_scanners_send_each_due_message_exactly_once(
    committed_due: tuple[Company, list[int]], enqueued: list[int]
) -> None:
    # given
    company, ids = committed_due
    barrier = threading.Barrier(SCANNERS)
    claimed: list[int] = []
    errors: list[BaseException] = []

    def scan() -> None:
        try:
            with schema_context(company.schema_name):
                barrier.wait()
                claimed.append(scheduled.scheduled_messages_send_due())
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    # when
    runners = [threading.Thread(target=scan) for _ in range(SCANNERS)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(60)
    # then
    assert not errors, errors
    assert sum(claimed) == DUE
    assert sorted(enqueued) == sorted(ids)
    with schema_context(company.schema_name):
        assert set(Message.objects.filter(pk__in=ids).values_list("status", flat=True)) == {Message.Status.QUEUED}


# --- API ----------------------------------------------------------------------------------------


def test_api_schedules_a_text_and_answers_202_scheduled(
    tenant_a: Company, api_a: Client, in_a: InA, open_thread: Thread, enqueued: list[int]
) -> None:
    # given
    send_at = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    # when
    response = post_json(
        api_a,
        "/api/v1/messages/",
        {"thread": str(open_thread.public_id), "type": "text", "text": "Later", "send_at": send_at.isoformat()},
    )
    # then
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "scheduled"
    assert body["send_at"] == send_at.isoformat().replace("+00:00", "Z")
    assert enqueued == []
    detail = api_a.get(f"/api/v1/messages/{body['id']}/").json()
    assert detail["status"] == "scheduled"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "text", "text": "x", "send_at": "2020-01-01T10:00:00Z"}, "send_at"),
        ({"type": "text", "text": "x", "send_at": "tomorrow"}, "send_at"),
        (
            {"type": "image", "media": {"url": "https://example.com/a.png"}, "send_at": "2099-01-01T10:00:00Z"},
            "send_at",
        ),
    ],
    ids=["past", "not-a-time", "image"],
)
def test_api_refuses_a_bad_send_at_with_400(
    tenant_a: Company, api_a: Client, in_a: InA, open_thread: Thread, body: dict[str, Any], field: str
) -> None:
    # when
    response = post_json(api_a, "/api/v1/messages/", {"thread": str(open_thread.public_id), **body})
    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert field in response.json()["error"]["details"]
    with in_a():
        assert not Message.objects.filter(thread=open_thread).exists()


def test_api_schedules_a_template_to_a_new_number(
    tenant_a: Company, api_a: Client, in_a: InA, number_a: PhoneNumber
) -> None:
    # given
    TemplateFactory(name="welcome", body="Welcome!")
    send_at = (timezone.now() + timedelta(days=1)).isoformat()
    # when
    response = post_json(
        api_a,
        "/api/v1/messages/",
        {
            "to": "+4915199990000",
            "type": "template",
            "template": {"name": "welcome", "language": "en"},
            "send_at": send_at,
        },
    )
    # then
    assert response.status_code == 202
    assert response.json()["status"] == "scheduled"
    assert response.json()["template"]["name"] == "welcome"


def test_api_cancels_once_then_answers_409(
    tenant_a: Company, api_a: Client, in_a: InA, alice: Persona, open_thread: Thread
) -> None:
    # given
    with in_a():
        message = scheduled.message_schedule(
            thread=open_thread, sender=alice.user, send_at=_in(30), type="text", text="x"
        )
    path = f"/api/v1/messages/{message.public_id}/cancel/"
    # when
    first = post_json(api_a, path)
    second = post_json(api_a, path)
    # then
    assert first.status_code == 200
    assert first.json()["status"] == "cancelled"
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "conflict"


def test_api_cancel_of_another_companys_message_is_404(
    tenant_a: Company, api_b: Client, in_a: InA, alice: Persona, open_thread: Thread
) -> None:
    # given
    with in_a():
        message = scheduled.message_schedule(
            thread=open_thread, sender=alice.user, send_at=_in(30), type="text", text="x"
        )
    # when
    response = post_json(api_b, f"/api/v1/messages/{message.public_id}/cancel/")
    # then
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    with in_a():
        message.refresh_from_db()
        assert message.status == Message.Status.SCHEDULED


# --- browser inbox (server side) ----------------------------------------------------------------


def test_agent_schedules_from_the_thread_and_sees_it_with_a_cancel_button(
    alice_client: Client, in_a: InA, company_a: Company, number_a: PhoneNumber
) -> None:
    # given
    with in_a():
        thread = ThreadFactory(phone_number=number_a, window_open=True)
    url = f"/inbox/threads/{thread.public_id}/"
    send_at = (timezone.now() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    # when
    response = alice_client.post(f"{url}schedule/", {"text": "<b>Tomorrow</b>", "send_at": send_at})
    page = alice_client.get(url).content.decode()
    # then
    assert response.status_code == 302
    with in_a():
        message = Message.objects.get(thread=thread)
    assert message.status == Message.Status.SCHEDULED
    assert message.send_at is not None
    assert message.send_at.strftime("%Y-%m-%dT%H:%M") == send_at
    assert "&lt;b&gt;Tomorrow&lt;/b&gt;" in page
    assert "<b>Tomorrow</b>" not in page
    assert f"/scheduled/{message.public_id}/cancel/" in page
    # when cancelled
    cancel = alice_client.post(f"{url}scheduled/{message.public_id}/cancel/")
    # then
    assert cancel.status_code == 302
    with in_a():
        message.refresh_from_db()
    assert message.status == Message.Status.CANCELLED
    assert f"/scheduled/{message.public_id}/cancel/" not in alice_client.get(url).content.decode()


def test_a_bad_schedule_form_stores_nothing_and_says_why(
    alice_client: Client, in_a: InA, number_a: PhoneNumber
) -> None:
    # given
    with in_a():
        thread = ThreadFactory(phone_number=number_a, window_open=True)
    url = f"/inbox/threads/{thread.public_id}/"
    # when
    past = alice_client.post(f"{url}schedule/", {"text": "x", "send_at": "2020-01-01T10:00"}, follow=True)
    empty = alice_client.post(f"{url}schedule/", {"text": "", "send_at": "2099-01-01T10:00"}, follow=True)
    # then
    assert "Not scheduled" in past.content.decode()
    assert "Write the message, or choose a template." in empty.content.decode()
    with in_a():
        assert not Message.objects.filter(thread=thread).exists()


def test_another_companys_scheduled_message_cannot_be_cancelled(
    alice: Persona, charlie_client: Client, in_a: InA, number_a: PhoneNumber
) -> None:
    # given
    with in_a():
        thread = ThreadFactory(phone_number=number_a, window_open=True)
        message = scheduled.message_schedule(thread=thread, sender=alice.user, send_at=_in(30), type="text", text="x")
    # when
    response = charlie_client.post(f"/inbox/threads/{thread.public_id}/scheduled/{message.public_id}/cancel/")
    # then
    assert response.status_code == 404
    with in_a():
        message.refresh_from_db()
    assert message.status == Message.Status.SCHEDULED
