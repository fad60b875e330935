"""A customer's message arriving while their erasure runs (inbox/services/privacy.py).

Two real connections in two threads, on committed rows: the inbound processing
(tenants.inbound.provider_event_process, as the Celery task runs it) and the erasure lock
the same contact row, so whichever comes second waits for the first. Either the message
is booked first and the erasure scrubs it, or the erasure commits first and the message
makes a new contact; never a message with content on the erased contact.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.models import User
from automation import hooks as automation_hooks
from conftest import Persona
from inbox.models import Contact, Message, PhoneNumber, PrivacyLog, Thread
from inbox.services import contacts as contact_services
from inbox.services import numbers, privacy
from inbox.tests.browser import committed_db  # noqa: F401 - fixture
from inbox.tests.factories import ContactFactory, MessageFactory, ThreadFactory
from inbox.tests.webhook_payloads import body_encode, connect, envelope_build, text_message_item
from tenants import inbound
from tenants.models import Company, PhoneNumberRoute, ProviderEvent

NUMBER = "770000000009901"
DISPLAY = "+493012399901"
PHONE = "+4915112399901"
SECRET = "Meine neue Adresse ist Ringstr. 9"
WAIT = 30.0


@dataclass
class Customer:
    company: Company
    owner: User
    contact: Contact
    number: PhoneNumber
    events: list[int]


@pytest.fixture
def customer(personas: dict[str, Persona], committed_db: None) -> Iterator[Customer]:  # noqa: F811
    """Committed in acme: a connected number and a customer who wrote once; removed after."""
    alice = personas["alice"]
    company = alice.company
    number = connect(company, NUMBER, DISPLAY)
    with schema_context(company.schema_name):
        contact = ContactFactory(phone=PHONE, wa_id=PHONE.lstrip("+"), name="Ana", profile_name="Ana")
        MessageFactory(thread=ThreadFactory(contact=contact, phone_number=number), text="Hallo")
    state = Customer(company=company, owner=alice.user, contact=contact, number=number, events=[])
    try:
        yield state
    finally:
        connection.set_schema_to_public()
        ProviderEvent.objects.filter(pk__in=state.events).delete()
        with schema_context(company.schema_name):
            PrivacyLog.objects.filter(contact_public_id=contact.public_id).delete()
            Contact.objects.filter(threads__phone_number=number).delete()
            Contact.objects.filter(pk=contact.pk).delete()
            numbers.phone_number_disconnect(company=company, phone_number=number)
            PhoneNumber.objects.filter(pk=number.pk).delete()
        PhoneNumberRoute.objects.filter(phone_number_id=NUMBER).delete()


def _store(customer: Customer, wamid: str) -> int:
    """The webhook of the customer's new message, stored as the view stores it."""
    body = body_encode(
        envelope_build(
            phone_number_id=NUMBER,
            messages=[text_message_item(sender=PHONE, text=SECRET, wamid=wamid)],
            contacts=[{"profile": {"name": "Ana"}, "wa_id": PHONE.lstrip("+")}],
        )
    )
    event = inbound.provider_event_receive(body=body, signature="test", enqueue=False)
    customer.events.append(event.pk)
    return event.pk


class Runner(threading.Thread):
    """Runs `work` on its own database connection; keeps what it raised."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            connection.set_schema_to_public()
            self.work()
        except BaseException as exc:  # handed to the test
            self.error = exc
        finally:
            connection.close()


def _erase(customer: Customer) -> Callable[[], Any]:
    def work() -> None:
        with schema_context(customer.company.schema_name):
            privacy.contact_erase(contact=Contact.objects.get(pk=customer.contact.pk), actor=customer.owner)

    return work


def _process(event_id: int) -> Callable[[], Any]:
    return lambda: inbound.provider_event_process(event_id=event_id)


def _someone_waits_for_a_lock() -> bool:
    """Whether a session of this test database waits for a row lock (the other side)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return True
        time.sleep(0.05)
    return False


def _finish(release: threading.Event, runners: list[Runner]) -> None:
    release.set()
    for runner in runners:
        runner.join(WAIT)
        assert not runner.is_alive()
        assert runner.error is None, runner.error


def test_a_message_booked_before_the_erasure_is_scrubbed_by_it(
    customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the inbound processing has booked the message and not committed yet
    booked, release = threading.Event(), threading.Event()
    recorded = automation_hooks.inbound_recorded

    def hold(*, message: Message) -> None:
        recorded(message=message)
        booked.set()
        release.wait(WAIT)

    monkeypatch.setattr(automation_hooks, "inbound_recorded", hold)
    event_id = _store(customer, "wamid.RACE.BEFORE")
    runners = [Runner(_process(event_id))]
    runners[0].start()
    try:
        assert booked.wait(WAIT)
        # when: the owner erases the contact meanwhile
        runners.append(Runner(_erase(customer)))
        runners[1].start()
        # then: the erasure waits for the message's transaction ...
        assert _someone_waits_for_a_lock()
        assert runners[1].is_alive()
    finally:
        _finish(release, runners)
    # ... and scrubs the message with the rest: it is on the erased contact, without content
    with schema_context(customer.company.schema_name):
        message = Message.objects.select_related("thread__contact").get(wamid="wamid.RACE.BEFORE")
        assert message.thread.contact_id == customer.contact.pk
        assert (message.text, message.payload) == ("", {})
        assert Thread.objects.get(pk=message.thread_id).last_message_preview == ""
        erased = Contact.objects.get(pk=customer.contact.pk)
        assert erased.erased_at is not None
        assert (erased.profile_name, erased.wa_id) == ("", "")
        assert set(Message.objects.filter(thread__contact=erased).values_list("text", flat=True)) == {""}
        assert not Contact.objects.filter(phone=PHONE).exists()
    assert PHONE.lstrip("+").encode() not in bytes(ProviderEvent.objects.get(pk=event_id).body)


def test_a_message_arriving_during_the_erasure_makes_a_new_contact(
    customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the erasure has scrubbed the thread and not committed yet
    scrubbed, release = threading.Event(), threading.Event()
    consent_record = contact_services.consent_record

    def hold(**kwargs: Any) -> Any:
        result = consent_record(**kwargs)
        if kwargs.get("source") == "erasure":
            scrubbed.set()
            release.wait(WAIT)
        return result

    monkeypatch.setattr(contact_services, "consent_record", hold)
    runners = [Runner(_erase(customer))]
    runners[0].start()
    try:
        assert scrubbed.wait(WAIT)
        # when: the customer's next message is processed meanwhile
        runners.append(Runner(_process(_store(customer, "wamid.RACE.AFTER"))))
        runners[1].start()
        # then: it waits for the erasure ...
        assert _someone_waits_for_a_lock()
        assert runners[1].is_alive()
    finally:
        _finish(release, runners)
    # ... and lands on a new contact, with its content; the erased one stays empty
    with schema_context(customer.company.schema_name):
        message = Message.objects.select_related("thread__contact").get(wamid="wamid.RACE.AFTER")
        new = message.thread.contact
        assert new.pk != customer.contact.pk
        assert (new.phone, new.profile_name, new.erased_at) == (PHONE, "Ana", None)
        assert message.text == SECRET
        erased = Contact.objects.get(pk=customer.contact.pk)
        assert erased.erased_at is not None
        assert (erased.phone, erased.profile_name) == (f"erased:{erased.pk}", "")
        assert list(Message.objects.filter(thread__contact=erased).values_list("text", flat=True)) == [""]


def test_an_erasure_during_a_flush_recording_the_contacts_send_waits_without_deadlock(
    customer: Customer, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    # given: a running broadcast whose one recipient is the customer (committed rows), and
    # a chunk whose flush has recorded the send (delivery and message rows locked) and is
    # about to count it out of the broadcast's `remaining`
    from inbox.models import Broadcast, Delivery, Template
    from inbox.services import broadcasts

    settings.WHATSAPP_API_BASE = ""  # the sandbox sender
    settings.BROADCAST_NUMBER_RATE = 1000
    with schema_context(customer.company.schema_name):
        Contact.objects.filter(pk=customer.contact.pk).update(opted_in=True)
        template = Template.objects.create(name="race_notice", language="en", category="utility",
                                           body="Hello {{1}}", status="approved")  # fmt: skip
        broadcast = Broadcast.objects.create(name="race", template=template, phone_number=customer.number,
                                             template_parameters=["Ana"], audience={"type": "all"},
                                             status=Broadcast.Status.RUNNING, total=1, remaining=1)  # fmt: skip
        delivery = Delivery.objects.create(broadcast=broadcast, contact=customer.contact)
        Broadcast.objects.filter(pk=broadcast.pk).update(
            first_delivery_id=delivery.pk, last_delivery_id=delivery.pk, dispatch_cursor=delivery.pk + 1
        )
    recorded, release = threading.Event(), threading.Event()
    remaining_move = broadcasts._remaining_move
    flushing: list[threading.Thread] = []

    def hold(broadcast_id: int, finished: int) -> None:
        if threading.current_thread() in flushing:
            recorded.set()
            release.wait(WAIT)
        remaining_move(broadcast_id, finished)

    monkeypatch.setattr(broadcasts, "_remaining_move", hold)

    def send() -> None:
        with schema_context(customer.company.schema_name):
            broadcasts.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=delivery.pk, hi=delivery.pk + 1)

    runners = [Runner(send)]
    flushing.append(runners[0])
    runners[0].start()
    try:
        assert recorded.wait(WAIT)
        # when: the owner erases the customer meanwhile
        runners.append(Runner(_erase(customer)))
        runners[1].start()
        # then: the erasure waits for the flush (no deadlock: both take the delivery rows first)
        assert _someone_waits_for_a_lock()
        assert runners[1].is_alive()
        _finish(release, runners)
        with schema_context(customer.company.schema_name):
            done = Broadcast.objects.get(pk=broadcast.pk)
            assert (done.status, done.remaining) == (Broadcast.Status.COMPLETED, 0)
            sent = Delivery.objects.get(pk=delivery.pk)
            assert (sent.status, sent.parameters) == (Delivery.Status.SENT, None)
            # the message the flush wrote was scrubbed by the erasure that waited for it
            assert Message.objects.get(pk=sent.message_id).text == ""
            assert Contact.objects.get(pk=customer.contact.pk).erased_at is not None
    finally:
        release.set()
        with schema_context(customer.company.schema_name):
            Delivery.objects.filter(broadcast_id=broadcast.pk).delete()
            Broadcast.objects.filter(pk=broadcast.pk).delete()
            Template.objects.filter(pk=template.pk).delete()
