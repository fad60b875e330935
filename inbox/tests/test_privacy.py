"""Privacy (GDPR): export, erasure and retention, through the services and the API."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from billing.tests.fixtures import plan_limits_lifted  # noqa: F401 - the fixture
from conftest import Persona
from inbox import broadcast_selectors
from inbox.models import (
    AudienceUpload,
    AudienceUploadRow,
    Broadcast,
    ConsentEvent,
    Contact,
    Delivery,
    Message,
    Note,
    PhoneNumber,
    PrivacyLog,
    Thread,
)
from inbox.services import broadcasts, privacy, scheduled
from inbox.services import contacts as contact_services
from inbox.services import messages as message_services
from inbox.tests.api_helpers import patch_json, post_json
from inbox.tests.factories import (
    ContactFactory,
    LabelFactory,
    MessageFactory,
    NoteFactory,
    OutboundMessageFactory,
    PhoneNumberFactory,
    ThreadFactory,
)
from inbox.tests.factories_broadcasts import BroadcastFactory, OptedInContactFactory
from inbox.tests.webhook_payloads import (
    connect,
    envelope_build,
    post,
    post_and_process,
    process,
    status_item,
    text_message_item,
)
from tenants.models import Company, ProviderEvent

pytest_plugins = ["inbox.tests.fixtures_api"]

SECRET = "Meine Adresse ist Hauptstr. 5"
PHONE = "+4915112345678"


@pytest.fixture
def media_root() -> Iterator[list[str]]:
    """Names of files the test stored; whatever is left is deleted afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        default_storage.delete(name)


def _owner(persona: Persona) -> User:
    return User.objects.get(pk=persona.user.pk)


def _rich_contact(*, media: bool = True) -> tuple[Contact, Thread, Message]:
    """A contact with everything: attributes, labels, consent, a thread with a media message
    and a template send, a note."""
    contact = ContactFactory(
        phone=PHONE, wa_id=PHONE.lstrip("+"), name="Ana Pérez", profile_name="Ana", attributes={"city": "Köln"}
    )
    contact.labels.add(LabelFactory(name="vip"))
    contact_services.consent_record(contact=contact, action="opt_in", source="keyword", detail="START from Ana")
    thread = ThreadFactory(contact=contact, status=Thread.Status.RESOLVED, last_message_preview=SECRET)
    message = MessageFactory(
        thread=thread,
        text=SECRET,
        payload={"body": SECRET},
        type=Message.Type.IMAGE if media else Message.Type.TEXT,
        media_id="media-1" if media else "",
        media_filename="ana.jpg" if media else "",
        media_status=Message.MediaStatus.READY if media else "",
    )
    if media:
        message.media_file.save("acme/ana.jpg", ContentFile(b"\xff\xd8\xffANA"), save=True)
    MessageFactory(
        thread=thread,
        direction=Message.Direction.OUTBOUND,
        type=Message.Type.TEMPLATE,
        text="Hallo Ana",
        status=Message.Status.DELIVERED,
        template_name="greeting",
        template_parameters=["Ana"],
    )
    NoteFactory(thread=thread, body="Ana wants a table at 8, husband is Bernd")
    return contact, thread, message


# --- export ------------------------------------------------------------------------------------


def test_export_zip_holds_everything_and_the_media(
    tenant_a: Company, alice: Persona, api_a: Client, media_root: list[str]
) -> None:
    # given
    contact, thread, message = _rich_contact()
    media_root.append(message.media_file.name)
    # when
    response = api_a.get(f"/api/v1/contacts/{contact.public_id}/export/")
    # then
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert f"contact-{contact.public_id}.zip" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    data = json.loads(archive.read("contact.json"))
    assert data["contact"]["phone"] == PHONE
    assert data["contact"]["attributes"] == {"city": "Köln"}
    assert data["contact"]["labels"] == ["vip"]
    assert [e["detail"] for e in data["consent_events"]] == ["START from Ana"]
    [exported_thread] = data["threads"]
    assert exported_thread["id"] == str(thread.public_id)
    texts = [m["text"] for m in exported_thread["messages"]]
    assert SECRET in texts
    assert "Hallo Ana" in texts
    assert exported_thread["notes"][0]["body"].startswith("Ana wants")
    exported = next(m for m in exported_thread["messages"] if m["id"] == str(message.public_id))
    assert archive.read(exported["media_file"]) == b"\xff\xd8\xffANA"
    assert data["broadcast_deliveries"] == []


def test_export_of_another_companys_contact_is_404(tenant_b: Company, api_a: Client) -> None:
    # given: charlie's contact
    contact = ContactFactory()
    # when
    response = api_a.get(f"/api/v1/contacts/{contact.public_id}/export/")
    # then
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_export_needs_an_owner(tenant_a: Company, bob: Persona, alice: Persona) -> None:
    contact = ContactFactory()
    with pytest.raises(PermissionDenied):
        privacy.contact_export(contact=contact, actor=User.objects.get(pk=bob.user.pk))
    assert privacy.contact_export(contact=contact, actor=_owner(alice)).read(2) == b"PK"


# --- erasure -----------------------------------------------------------------------------------


def test_erasure_removes_every_personal_field_and_the_media_files(
    tenant_a: Company, alice: Persona, media_root: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    # given
    contact, thread, message = _rich_contact()
    stored = message.media_file.name
    media_root.append(stored)
    assert default_storage.exists(stored)
    upload = AudienceUpload.objects.create(original_name="list.csv", columns=["first"])
    AudienceUploadRow.objects.create(upload=upload, line=2, phone=PHONE, contact=contact, variables={"first": "Ana"})
    # when
    with django_capture_on_commit_callbacks(execute=True):
        log = privacy.contact_erase(contact=contact, actor=_owner(alice))
    # then: the contact is an anonymous shell
    contact.refresh_from_db()
    assert contact.erased_at is not None
    assert contact.phone == f"erased:{contact.pk}"
    assert (contact.wa_id, contact.name, contact.profile_name, contact.attributes) == ("", "", "", {})
    assert not contact.labels.exists()
    # the thread keeps its shape, not its content
    messages = list(Message.objects.filter(thread=thread).order_by("created_at"))
    assert len(messages) == 2
    for row in messages:
        assert (row.text, row.payload, row.media_file.name, row.media_filename, row.template_parameters) == (
            "", {}, "", "", []
        )  # fmt: skip
    assert [m.direction for m in messages] == ["inbound", "outbound"]
    assert messages[1].status == Message.Status.DELIVERED
    assert not default_storage.exists(stored)
    assert Note.objects.get(thread=thread).body == ""
    assert Thread.objects.get(pk=thread.pk).last_message_preview == ""
    assert ConsentEvent.objects.get(contact=contact, source="keyword").detail == ""
    # and it is opted out, so no audience picks the shell up
    assert ConsentEvent.objects.filter(contact=contact).first().source == "erasure"
    assert (contact.opted_in, contact.opted_out) == (False, True)
    row = AudienceUploadRow.objects.get(upload=upload)
    assert (row.phone, row.variables) == (f"erased:{contact.pk}", {})
    # the log says who and how much, nothing erased
    assert log.action == PrivacyLog.Action.ERASE_CONTACT
    assert log.actor_label == alice.user.email
    assert log.counts == {
        "threads": 1, "messages": 2, "media_files": 1, "notes": 1, "consent_events": 1, "upload_rows": 1,
        "provider_events": 0, "messages_cancelled": 0, "deliveries_ended": 0,
    }  # fmt: skip
    logged = json.dumps([log.from_label, log.counts, str(log.contact_public_id)])
    for personal in (PHONE, "Ana", "Köln", SECRET, "ana.jpg"):
        assert personal not in logged


def test_erasure_cannot_be_repeated_or_undone(tenant_a: Company, alice: Persona, api_a: Client) -> None:
    # given
    contact = ContactFactory(phone=PHONE)
    # when
    first = post_json(api_a, f"/api/v1/contacts/{contact.public_id}/erase/")
    second = post_json(api_a, f"/api/v1/contacts/{contact.public_id}/erase/")
    # then
    assert first.status_code == 200
    assert first.json()["contact"] == str(contact.public_id)
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "conflict"
    assert PrivacyLog.objects.filter(action="erase_contact").count() == 1
    # the phone is gone from the database, so nothing can restore it
    assert not Contact.objects.filter(phone=PHONE).exists()


def test_erasure_needs_an_owner(tenant_a: Company, bob: Persona) -> None:
    contact = ContactFactory(phone=PHONE)
    with pytest.raises(PermissionDenied):
        privacy.contact_erase(contact=contact, actor=User.objects.get(pk=bob.user.pk))
    contact.refresh_from_db()
    assert contact.phone == PHONE
    assert contact.erased_at is None


def test_erase_another_companys_contact_is_404(tenant_b: Company, api_a: Client) -> None:
    contact = ContactFactory(phone=PHONE)
    response = post_json(api_a, f"/api/v1/contacts/{contact.public_id}/erase/")
    assert response.status_code == 404
    with schema_context(tenant_b.schema_name):
        contact.refresh_from_db()
    assert contact.erased_at is None


def test_customer_writing_after_erasure_is_a_new_contact(
    public_client: Client, company_a: Company, alice: Persona
) -> None:
    # given: a customer wrote, and was erased on request
    number: PhoneNumber = connect(company_a, "1234500001", "+493012345")
    sender = PHONE

    def write(wamid: str) -> None:
        post_and_process(
            public_client,
            envelope_build(
                phone_number_id="1234500001",
                messages=[text_message_item(sender=sender, text="Hallo", wamid=wamid)],
                contacts=[{"profile": {"name": "Ana"}, "wa_id": sender.lstrip("+")}],
            ),
        )

    write("wamid.ERASE1")
    with schema_context(company_a.schema_name):
        first = Contact.objects.get(phone=PHONE)
        log = privacy.contact_erase(contact=first, actor=_owner(alice))
    # the raw webhook body is blanked too: no copy of the message is left to restore from
    assert log.counts["provider_events"] == 1
    digits = PHONE.lstrip("+").encode()
    assert not [bytes(e.body) for e in ProviderEvent.objects.all() if digits in bytes(e.body)]
    # when: the same number writes again
    write("wamid.ERASE2")
    # then: a new contact with a new thread; the erased one stays anonymous
    with schema_context(company_a.schema_name):
        second = Contact.objects.get(phone=PHONE)
        assert second.pk != first.pk
        assert second.profile_name == "Ana"
        new_message = Message.objects.select_related("thread").get(wamid="wamid.ERASE2")
        assert new_message.thread.contact_id == second.pk
        assert new_message.thread.phone_number_id == number.pk
        first.refresh_from_db()
        assert first.erased_at is not None
        assert first.profile_name == ""
        assert Thread.objects.filter(contact=first).count() == 1


def test_unprocessed_webhooks_lose_the_customer_and_are_processed_without_them(
    public_client: Client, company_a: Company, company_b: Company, alice: Persona
) -> None:
    # given: the customer wrote once (processed) and twice more in a body not processed yet,
    # which also holds another customer's message and a delivery report of a reply to them
    connect(company_a, "1234500001", "+493012345")
    connect(company_b, "1234500002", "+493012346")
    other = "+4915199999999"
    digits = PHONE.lstrip("+")

    def profile(phone: str, name: str) -> dict[str, Any]:
        return {"profile": {"name": name}, "wa_id": phone.lstrip("+")}

    processed = post_and_process(
        public_client,
        envelope_build(
            phone_number_id="1234500001",
            messages=[text_message_item(sender=PHONE, text="Hallo", wamid="wamid.DONE1")],
            contacts=[profile(PHONE, "Ana")],
        ),
    )
    with schema_context(company_a.schema_name):
        ana = Contact.objects.get(phone=PHONE)
        reply = MessageFactory(
            thread=Thread.objects.get(contact=ana),
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.SENT,
            status_rank=Message.STATUS_RANK[Message.Status.SENT],
            wamid="wamid.REPLY1",
            text="Gern, Ana",
        )
    pending = post(
        public_client,
        envelope_build(
            phone_number_id="1234500001",
            messages=[
                text_message_item(sender=PHONE, text=SECRET, wamid="wamid.PENDING1"),
                text_message_item(sender=other, text="Guten Tag", wamid="wamid.OTHER1"),
                text_message_item(sender=PHONE, text="Noch etwas", wamid="wamid.PENDING2"),
            ],
            statuses=[status_item(wamid="wamid.REPLY1", status="delivered", recipient=PHONE)],
            contacts=[profile(PHONE, "Ana"), profile(other, "Otto")],
        ),
    )
    # the same customer writing to another company's number: not this company's erasure
    elsewhere = post(
        public_client,
        envelope_build(
            phone_number_id="1234500002",
            messages=[text_message_item(sender=PHONE, text="Hallo B", wamid="wamid.B1")],
            contacts=[profile(PHONE, "Ana")],
        ),
    )
    elsewhere_body = bytes(elsewhere.body)
    # and a signed body that is no webhook envelope (processing could only reject it)
    garbage = post(public_client, f"truncated {digits} 1234500001".encode())
    # when
    with schema_context(company_a.schema_name):
        log = privacy.contact_erase(contact=ana, actor=_owner(alice))
    # then: the pending body keeps everything but this customer, and is still pending
    assert log.counts["provider_events"] == 3
    garbage.refresh_from_db()
    assert bytes(garbage.body) == b""
    pending.refresh_from_db()
    body = bytes(pending.body)
    assert pending.processed_at is None
    for personal in (digits, SECRET, "Noch etwas", "Ana"):
        assert personal.encode() not in body
    for kept in ("wamid.OTHER1", "Guten Tag", "Otto", "wamid.REPLY1"):
        assert kept.encode() in body
    processed.refresh_from_db()
    assert bytes(processed.body) == b""
    elsewhere.refresh_from_db()
    assert bytes(elsewhere.body) == elsewhere_body
    # when: it is processed after the erasure
    pending = process(pending)
    # then: the other customer's message is recorded, nothing of this one, and no contact
    # is made for the messages the erasure covered
    assert pending.processed_at is not None
    assert pending.error == ""
    with schema_context(company_a.schema_name):
        assert not Message.objects.filter(wamid__in=["wamid.PENDING1", "wamid.PENDING2"]).exists()
        assert not Contact.objects.filter(phone=PHONE).exists()
        assert Message.objects.get(wamid="wamid.OTHER1").thread.contact.phone == other
        ana.refresh_from_db()
        assert (ana.phone, ana.profile_name) == (f"erased:{ana.pk}", "")
        assert Message.objects.filter(thread__contact=ana).count() == 2
        # the delivery report still applies to the (scrubbed) reply
        reply.refresh_from_db()
        assert (reply.status, reply.text) == (Message.Status.DELIVERED, "")
    # and a blanked body processed again (an operator's replay) is recorded as invalid,
    # without crashing or bringing anything back
    ProviderEvent.objects.filter(pk=processed.pk).update(processed_at=None)
    replayed = process(processed)
    assert replayed.processed_at is not None
    assert "not JSON" in replayed.error
    with schema_context(company_a.schema_name):
        assert not Contact.objects.filter(phone=PHONE).exists()
        assert Message.objects.filter(wamid="wamid.DONE1", text="").count() == 1


@pytest.fixture
def fast_broadcasts(settings: Any, plan_limits_lifted: None) -> None:  # noqa: F811 - the fixture
    settings.WHATSAPP_API_BASE = ""
    settings.BROADCAST_NUMBER_RATE = 100_000


def _send_range(broadcast: Broadcast, lo: int, hi: int) -> None:
    broadcasts.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=lo, hi=hi)


def test_erasure_ends_queued_and_claimed_broadcast_deliveries_and_pending_sends(
    fast_broadcasts: None, tenant_a: Company, alice: Persona
) -> None:
    # given: personal parameters ({{1}} = the contact's name) in three broadcasts:
    number = PhoneNumberFactory()
    first, ana, last = (
        OptedInContactFactory(name=name, phone=phone)
        for name, phone in (("Fritz", "+4915100000001"), ("Ana", PHONE), ("Lena", "+4915100000003"))
    )
    for contact in (first, ana, last):
        contact.labels.add(LabelFactory(name="all-three"))
    ana.labels.add(LabelFactory(name="only-ana"))

    def start(label: str) -> Broadcast:
        return broadcasts.broadcast_start(
            broadcast=BroadcastFactory(
                phone_number=number,
                template_parameters=[{"contact": "name"}, "A-1"],
                audience={"type": "labels", "labels": [label]},
            )
        )

    # one already sent to Ana,
    done = start("only-ana")
    _send_range(done, done.first_delivery_id, done.last_delivery_id + 1)
    # one running: sent to Fritz, Ana and Lena still queued,
    running = start("all-three")
    _send_range(running, running.first_delivery_id, running.first_delivery_id + 1)
    # one whose chunk has claimed Ana's row and is sending it now
    claimed = start("only-ana")
    claimed_row = Delivery.objects.get(broadcast=claimed)
    Delivery.objects.filter(pk=claimed_row.pk).update(
        status=Delivery.Status.SENDING, claim_token=7, lease_until=timezone.now() + timedelta(seconds=60)
    )
    chunk = broadcasts._chunk_prepare(claimed, [(claimed_row.pk, ana.pk)])  # what the chunk holds in memory
    assert Delivery.objects.get(broadcast=running, contact=ana).parameters == ["Ana", "A-1"]
    # and an agent's send-later reply and a reply still in the delivery queue
    thread = Thread.objects.get(contact=ana, phone_number=number)
    Thread.objects.filter(pk=thread.pk).update(last_inbound_at=timezone.now())
    thread.refresh_from_db()
    later = scheduled.message_schedule(
        thread=thread, sender=alice.user, send_at=timezone.now() + timedelta(hours=1), type="text", text="Ana, morgen?"
    )
    queued = OutboundMessageFactory(thread=thread, text="Ana, sofort")
    # when
    log = privacy.contact_erase(contact=ana, actor=_owner(alice))
    # then: Ana's unsent deliveries are over, with the reason, and hold nothing personal
    assert (log.counts["deliveries_ended"], log.counts["messages_cancelled"]) == (2, 2)
    for broadcast in (running, claimed):
        row = Delivery.objects.get(broadcast=broadcast, contact=ana)
        assert (row.status, row.skip_reason, row.parameters) == (Delivery.Status.SKIPPED, "erased", None)
        assert (row.claim_token, row.lease_until, row.message_id) == (None, None, None)
    # the one already sent keeps its shape, not its parameters
    sent_row = Delivery.objects.get(broadcast=done)
    assert (sent_row.status, sent_row.parameters) == (Delivery.Status.SENT, None)
    assert Message.objects.get(pk=sent_row.message_id).text == ""
    # the counters moved as for an opt-out: the claimed broadcast had only Ana and is complete
    running.refresh_from_db()
    claimed.refresh_from_db()
    assert running.remaining == 1
    assert running.status == Broadcast.Status.RUNNING
    assert (claimed.remaining, claimed.status) == (0, Broadcast.Status.COMPLETED)
    # the chunk that was sending to Ana reports late: nothing of it is recorded in her thread
    report = broadcasts.ChunkReport()
    result = broadcasts.bulk.BulkResult(claimed_row.pk, "sent", wamid="wamid.LATE")
    broadcasts._flush(claimed, 7, [result], {}, report, chunk)
    assert report.sent == 0
    assert not Message.objects.filter(wamid="wamid.LATE").exists()
    # the running broadcast goes on with Lena and completes, counts adding up
    _send_range(running, running.first_delivery_id, running.last_delivery_id + 1)
    running.refresh_from_db()
    assert running.status == Broadcast.Status.COMPLETED
    counts = broadcast_selectors.broadcast_counts(broadcast=running)
    assert (counts["sent"], counts["skipped"], counts["queued"], counts["total"]) == (2, 1, 0, 3)
    assert Delivery.objects.get(broadcast=running, contact=last).status == Delivery.Status.SENT
    # nothing in Ana's thread carries her name; the pending sends are cancelled for good
    assert not Message.objects.filter(thread__contact=ana, text__contains="Ana").exists()
    for message in (later, queued):
        message.refresh_from_db()
        assert (message.status, message.text) == (Message.Status.CANCELLED, "")
    assert message_services.message_deliver(message_id=queued.pk) is None
    assert scheduled.scheduled_messages_send_due(now=timezone.now() + timedelta(hours=2)) == 0


def test_erased_skip_reason_has_a_label() -> None:
    from inbox.templatetags.status_labels import skip_reason_label

    assert skip_reason_label("erased") == "erased"


# --- retention ---------------------------------------------------------------------------------


def test_retention_purges_old_resolved_threads_only(
    tenant_a: Company, media_root: list[str], django_capture_on_commit_callbacks: Any
) -> None:
    # given: a 30-day period; threads resolved 40 and 10 days ago, an open one 40 days old
    now = timezone.now()
    company = Company.objects.get(pk=tenant_a.pk)  # a copy: the session's company stays as it is
    company.retention_days = 30
    old_resolved = ThreadFactory(status=Thread.Status.RESOLVED, last_message_at=now - timedelta(days=40))
    recent_resolved = ThreadFactory(status=Thread.Status.RESOLVED, last_message_at=now - timedelta(days=10))
    old_open = ThreadFactory(status=Thread.Status.OPEN, last_message_at=now - timedelta(days=40))
    purged = [MessageFactory(thread=old_resolved, text=f"old {n}") for n in range(5)]
    purged[0].media_file.save("acme/old.pdf", ContentFile(b"%PDF"), save=True)
    old_file = purged[0].media_file.name
    media_root.append(old_file)
    kept = [MessageFactory(thread=recent_resolved, text="recent"), MessageFactory(thread=old_open, text="open")]
    # when: batches of 2 (several batches), with the clock passed in
    with django_capture_on_commit_callbacks(execute=True):
        log = privacy.retention_purge(company=company, now=now, batch_size=2)
    # then
    assert log is not None
    assert log.counts == {"messages": 5, "media_files": 1, "retention_days": 30}
    assert set(Message.objects.filter(thread=old_resolved).values_list("text", flat=True)) == {""}
    assert Message.objects.filter(thread=old_resolved).count() == 5
    assert not default_storage.exists(old_file)
    assert sorted(Message.objects.filter(pk__in=[m.pk for m in kept]).values_list("text", flat=True)) == [
        "open",
        "recent",
    ]
    # idempotent: a second run finds nothing
    assert privacy.retention_purge(company=company, now=now, batch_size=2) is None
    # and the clock decides: 31 days later the other resolved thread is due
    later = privacy.retention_purge(company=company, now=now + timedelta(days=31))
    assert later is not None
    assert later.counts["messages"] == 1


def test_retention_off_by_default(tenant_a: Company) -> None:
    ThreadFactory(status=Thread.Status.RESOLVED, last_message_at=timezone.now() - timedelta(days=4000))
    company = Company.objects.get(pk=tenant_a.pk)
    assert company.retention_days is None
    assert privacy.retention_purge(company=company, now=timezone.now()) is None


def test_retention_setting_through_the_api(tenant_a: Company, api_a: Client, api_b: Client) -> None:
    assert api_a.get("/api/v1/settings/privacy/").json() == {"retention_days": None}
    assert patch_json(api_a, "/api/v1/settings/privacy/", {"retention_days": 90}).json() == {"retention_days": 90}
    assert Company.objects.get(pk=tenant_a.pk).retention_days == 90
    bad = patch_json(api_a, "/api/v1/settings/privacy/", {"retention_days": 0})
    assert bad.status_code == 400
    assert "retention_days" in bad.json()["error"]["details"]
    # the other company's setting is its own
    assert api_b.get("/api/v1/settings/privacy/").json() == {"retention_days": None}
    assert patch_json(api_a, "/api/v1/settings/privacy/", {"retention_days": None}).json() == {"retention_days": None}


def test_retention_task_runs_in_the_company_schema(tenant_a: Company) -> None:
    from inbox import tasks

    Company.objects.filter(pk=tenant_a.pk).update(retention_days=1)
    thread = ThreadFactory(status=Thread.Status.RESOLVED, last_message_at=timezone.now() - timedelta(days=3))
    MessageFactory(thread=thread, text="old")
    tasks.retention_purge_task()
    assert Message.objects.get(thread=thread).text == ""


def test_export_answers_a_client_that_accepts_only_zip(tenant_a: Company, api_a: Client) -> None:
    contact = ContactFactory()
    response = api_a.get(f"/api/v1/contacts/{contact.public_id}/export/", HTTP_ACCEPT="application/zip")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:2] == b"PK"


def test_erased_contact_panel_says_so(tenant_a: Company, alice: Persona, alice_client: Client) -> None:
    contact = ContactFactory(name="Ana Gone")
    thread = ThreadFactory(contact=contact)
    privacy.contact_erase(contact=contact, actor=_owner(alice))
    page = alice_client.get(f"/inbox/threads/{thread.public_id}/").content.decode()
    assert "This contact was erased on" in page
    assert "Ana Gone" not in page
    assert f"/inbox/contacts/{contact.public_id}/erase/" not in page


def test_export_error_is_json_even_when_only_zip_is_accepted(tenant_b: Company, api_a: Client) -> None:
    contact = ContactFactory()
    response = api_a.get(f"/api/v1/contacts/{contact.public_id}/export/", HTTP_ACCEPT="application/zip")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "not_found"


def test_retention_runs_nightly_for_every_company() -> None:
    from celery import current_app
    from celery.schedules import crontab
    from django.conf import settings as django_settings

    entry = django_settings.CELERY_BEAT_SCHEDULE["privacy-retention-purge"]
    assert entry["task"] == "tenants.tasks.companies_fanout_task"
    assert entry["args"] == ["inbox.tasks.retention_purge_task"]
    assert isinstance(entry["schedule"], crontab)
    assert "inbox.tasks.retention_purge_task" in current_app.tasks
