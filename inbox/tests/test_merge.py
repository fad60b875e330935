"""Merging contacts and threads: everything moves, collisions merge, audit, permissions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.models import User
from conftest import Persona
from inbox.models import ConsentEvent, Contact, CsatResponse, CsatSurvey, Message, Note, PrivacyLog, Thread
from inbox.services import contacts as contact_services
from inbox.services import merge
from inbox.tests.api_helpers import post_json
from inbox.tests.factories import (
    ContactFactory,
    LabelFactory,
    MessageFactory,
    NoteFactory,
    PhoneNumberFactory,
    ThreadFactory,
)
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]


def _user(persona: Persona) -> User:
    return User.objects.get(pk=persona.user.pk)


def _pair() -> dict[str, object]:
    """Two contacts of one person: each has a thread on number 1 (the collision), the
    duplicate also one on number 2; labels, consent, notes, a rating."""
    number_1, number_2 = PhoneNumberFactory(), PhoneNumberFactory()
    now = timezone.now()
    keep = ContactFactory(name="Ana Pérez", attributes={"city": "Köln"})
    dup = ContactFactory(name="", profile_name="Ana P", attributes={"city": "Bonn", "shoe": "38"})
    keep.labels.add(LabelFactory(name="vip"))
    dup.labels.add(LabelFactory(name="import"))
    keep_thread = ThreadFactory(contact=keep, phone_number=number_1, status=Thread.Status.RESOLVED)
    dup_thread = ThreadFactory(
        contact=dup, phone_number=number_1, status=Thread.Status.OPEN, unread_count=2, last_inbound_at=now
    )
    dup_thread.labels.add(LabelFactory(name="billing"))
    dup_other = ThreadFactory(contact=dup, phone_number=number_2)
    MessageFactory(thread=keep_thread, text="old question")
    MessageFactory(thread=dup_thread, text="new question")
    MessageFactory(thread=dup_other, text="via number 2")
    NoteFactory(thread=dup_thread, body="duplicate from the CSV import")
    survey = CsatSurvey.objects.create(thread=dup_thread, resolved_at=now - timedelta(days=1))
    CsatResponse.objects.create(survey=survey, thread=dup_thread, rating=5)
    contact_services.consent_record(contact=keep, action="opt_in", source="api")
    contact_services.consent_record(contact=dup, action="opt_out", purpose="marketing", source="keyword")
    return {"keep": keep, "dup": dup, "keep_thread": keep_thread, "dup_thread": dup_thread, "dup_other": dup_other}


def test_contact_merge_moves_everything_and_merges_the_colliding_threads(tenant_a: Company, alice: Persona) -> None:
    # given
    p = _pair()
    keep: Contact = p["keep"]  # type: ignore[assignment]
    dup: Contact = p["dup"]  # type: ignore[assignment]
    dup_phone = dup.phone
    # when
    log = merge.contact_merge(into=keep, source=p["dup"], actor=_user(alice))  # type: ignore[arg-type]
    # then: the duplicate is gone, nothing else is
    assert not Contact.objects.filter(pk=dup.pk).exists()
    threads = {t.phone_number_id: t for t in Thread.objects.filter(contact=keep)}
    assert len(threads) == 2  # one per number: the collision became one thread
    merged = Thread.objects.get(pk=p["keep_thread"].pk)  # type: ignore[attr-defined]
    assert sorted(Message.objects.filter(thread=merged).values_list("text", flat=True)) == [
        "new question",
        "old question",
    ]
    assert Message.objects.filter(thread__contact=keep).count() == 3
    assert Note.objects.get(thread=merged).body == "duplicate from the CSV import"
    assert CsatResponse.objects.get().thread_id == merged.pk
    assert {label.name for label in merged.labels.all()} == {"billing"}
    assert merged.status == Thread.Status.OPEN  # the open conversation stays open
    assert merged.unread_count == 2
    assert Thread.objects.filter(pk=p["dup_other"].pk, contact=keep).exists()  # type: ignore[attr-defined]
    keep.refresh_from_db()
    assert {label.name for label in keep.labels.all()} == {"vip", "import"}
    assert keep.attributes == {"city": "Köln", "shoe": "38", "merged_phone": dup_phone}
    assert (keep.name, keep.profile_name) == ("Ana Pérez", "Ana P")
    assert ConsentEvent.objects.filter(contact=keep).count() == 2
    assert (keep.opted_in, keep.marketing_opted_out) == (True, True)
    # audited: the summary, and one "merged from" event per thread that received content
    assert log.action == PrivacyLog.Action.MERGE_CONTACTS
    assert log.counts == {
        "threads_moved": 1, "threads_merged": 1, "messages": 2, "notes": 1, "consent_events": 1
    }  # fmt: skip
    assert log.actor_label == alice.user.email
    shown = merge.merge_timeline_items(thread=merged)
    assert [item["text"] for item in shown] == ["Merged from the contact Ana P"]


def test_thread_merge_moves_messages_and_notes(tenant_a: Company, alice: Persona) -> None:
    # given
    into, source = ThreadFactory(), ThreadFactory()
    MessageFactory(thread=into, text="one")
    MessageFactory(thread=source, text="two")
    NoteFactory(thread=source, body="a note")
    # when
    log = merge.thread_merge(into=into, source=source, actor=_user(alice))
    # then
    assert not Thread.objects.filter(pk=source.pk).exists()
    assert sorted(Message.objects.filter(thread=into).values_list("text", flat=True)) == ["one", "two"]
    assert Note.objects.filter(thread=into).count() == 1
    assert log.counts == {"messages": 1, "notes": 1}
    assert log.thread_id == into.pk
    assert log.from_public_id == source.public_id


def test_merge_with_itself_is_refused(tenant_a: Company, alice: Persona) -> None:
    contact = ContactFactory()
    thread = ThreadFactory(contact=contact)
    with pytest.raises(ValidationError):
        merge.contact_merge(into=contact, source=contact, actor=_user(alice))
    with pytest.raises(ValidationError):
        merge.thread_merge(into=thread, source=thread, actor=_user(alice))


def test_agents_may_not_merge(tenant_a: Company, bob: Persona) -> None:
    a, b = ContactFactory(), ContactFactory()
    with pytest.raises(PermissionDenied):
        merge.contact_merge(into=a, source=b, actor=_user(bob))
    assert Contact.objects.filter(pk=b.pk).exists()


# --- API ---------------------------------------------------------------------------------------


def test_api_contact_merge(tenant_a: Company, api_a: Client) -> None:
    a, b = ContactFactory(name="A"), ContactFactory(name="B")
    ThreadFactory(contact=b)
    response = post_json(api_a, f"/api/v1/contacts/{a.public_id}/merge/", {"from": str(b.public_id)})
    assert response.status_code == 200
    assert response.json()["id"] == str(a.public_id)
    assert response.json()["attributes"]["merged_phone"] == b.phone
    assert Thread.objects.filter(contact=a).count() == 1


def test_api_thread_merge(tenant_a: Company, api_a: Client) -> None:
    into, source = ThreadFactory(), ThreadFactory()
    MessageFactory(thread=source)
    response = post_json(api_a, f"/api/v1/threads/{into.public_id}/merge/", {"from": str(source.public_id)})
    assert response.status_code == 200
    assert response.json()["id"] == str(into.public_id)
    assert Message.objects.filter(thread=into).count() == 1


def test_api_merge_bad_input(tenant_a: Company, api_a: Client) -> None:
    a = ContactFactory()
    thread = ThreadFactory()
    missing = post_json(api_a, f"/api/v1/contacts/{a.public_id}/merge/", {})
    assert missing.status_code == 400
    assert "from" in missing.json()["error"]["details"]
    not_uuid = post_json(api_a, f"/api/v1/threads/{thread.public_id}/merge/", {"from": "nope"})
    assert not_uuid.status_code == 400
    itself = post_json(api_a, f"/api/v1/contacts/{a.public_id}/merge/", {"from": str(a.public_id)})
    assert itself.status_code == 409
    assert itself.json()["error"]["code"] == "conflict"


def test_api_merge_with_another_companys_objects_is_404(
    tenant_a: Company, company_b: Company, api_a: Client, api_b: Client
) -> None:
    # given: a contact and thread in each company
    mine, my_thread = ContactFactory(), ThreadFactory()
    with schema_context(company_b.schema_name):
        theirs, their_thread = ContactFactory(), ThreadFactory()
    # when / then: neither side may name the other company's object
    assert (
        post_json(api_a, f"/api/v1/contacts/{mine.public_id}/merge/", {"from": str(theirs.public_id)}).status_code
        == 404
    )
    assert (
        post_json(api_b, f"/api/v1/contacts/{mine.public_id}/merge/", {"from": str(theirs.public_id)}).status_code
        == 404
    )
    assert (
        post_json(
            api_a, f"/api/v1/threads/{my_thread.public_id}/merge/", {"from": str(their_thread.public_id)}
        ).status_code
        == 404
    )
    assert (
        post_json(
            api_b, f"/api/v1/threads/{my_thread.public_id}/merge/", {"from": str(their_thread.public_id)}
        ).status_code
        == 404
    )
    with schema_context(company_b.schema_name):
        assert Contact.objects.filter(pk=theirs.pk).exists()


# --- browser app (views) -----------------------------------------------------------------------


def test_agent_gets_403_on_merge_erase_and_export_pages(tenant_a: Company, bob_client: Client) -> None:
    a, b = ContactFactory(), ContactFactory()
    for url in (
        f"/inbox/contacts/{a.public_id}/merge/",
        f"/inbox/contacts/{a.public_id}/merge/{b.public_id}/",
        f"/inbox/contacts/{a.public_id}/erase/",
        f"/inbox/contacts/{a.public_id}/export/",
    ):
        assert bob_client.get(url).status_code == 403, url
    assert bob_client.post(f"/inbox/contacts/{a.public_id}/merge/{b.public_id}/").status_code == 403
    assert bob_client.post(f"/inbox/contacts/{a.public_id}/erase/", {"confirmation": "ERASE"}).status_code == 403
    assert Contact.objects.filter(pk=b.pk, erased_at__isnull=True).exists()


def test_owner_merges_from_the_pages_and_the_thread_shows_it(tenant_a: Company, alice_client: Client) -> None:
    # given
    keep, dup = ContactFactory(name="Ana Keep"), ContactFactory(name="Ana <b>Dup</b>")
    thread = ThreadFactory(contact=keep)
    ThreadFactory(contact=dup, phone_number=thread.phone_number)
    # when: search, confirm, merge
    picked = alice_client.get(f"/inbox/contacts/{keep.public_id}/merge/", {"q": "Ana", "thread": thread.public_id})
    confirm = alice_client.get(f"/inbox/contacts/{keep.public_id}/merge/{dup.public_id}/?thread={thread.public_id}")
    done = alice_client.post(
        f"/inbox/contacts/{keep.public_id}/merge/{dup.public_id}/", {"thread": str(thread.public_id)}
    )
    # then
    assert picked.status_code == 200
    assert f"/merge/{dup.public_id}/" in picked.content.decode()
    assert f"/merge/{keep.public_id}/" not in picked.content.decode()  # not offered to merge with itself
    assert confirm.status_code == 200
    assert "Ana &lt;b&gt;Dup&lt;/b&gt;" in confirm.content.decode()
    assert done.status_code == 302
    assert done["Location"].endswith(f"/inbox/threads/{thread.public_id}/")
    page = alice_client.get(f"/inbox/threads/{thread.public_id}/").content.decode()
    assert "Merged from the contact Ana &lt;b&gt;Dup&lt;/b&gt;" in page
    assert not Contact.objects.filter(pk=dup.pk).exists()


def test_owner_erases_with_the_typed_confirmation(tenant_a: Company, alice_client: Client) -> None:
    contact = ContactFactory(phone="+4915199998888")
    thread = ThreadFactory(contact=contact)
    wrong = alice_client.post(f"/inbox/contacts/{contact.public_id}/erase/", {"confirmation": "erase"})
    assert wrong.status_code == 400
    contact.refresh_from_db()
    assert contact.erased_at is None
    page = alice_client.get(f"/inbox/contacts/{contact.public_id}/erase/?thread={thread.public_id}")
    assert page.status_code == 200
    done = alice_client.post(f"/inbox/contacts/{contact.public_id}/erase/", {"confirmation": "ERASE"})
    assert done.status_code == 302
    contact.refresh_from_db()
    assert contact.erased_at is not None
    assert contact.phone.startswith("erased:")


def test_owner_downloads_the_export_from_the_inbox(tenant_a: Company, alice_client: Client) -> None:
    contact = ContactFactory()
    response = alice_client.get(f"/inbox/contacts/{contact.public_id}/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert b"".join(response.streaming_content)[:2] == b"PK"


def test_settings_privacy_page(tenant_a: Company, alice_client: Client, bob_client: Client) -> None:
    assert alice_client.get("/settings/privacy/").status_code == 200
    bad = alice_client.post("/settings/privacy/", {"retention_days": "0"})
    assert bad.status_code == 400
    saved = alice_client.post("/settings/privacy/", {"retention_days": "365"})
    assert saved.status_code == 302
    assert Company.objects.get(pk=tenant_a.pk).retention_days == 365
    alice_client.post("/settings/privacy/", {"retention_days": ""})
    assert Company.objects.get(pk=tenant_a.pk).retention_days is None
    assert bob_client.get("/settings/privacy/").status_code == 403


def test_merge_pages_ignore_a_bad_thread_parameter(tenant_a: Company, alice_client: Client) -> None:
    contact = ContactFactory()
    thread = ThreadFactory(contact=contact)
    page = alice_client.get(f"/inbox/contacts/{contact.public_id}/merge/", {"thread": "not-an-id", "q": "x"})
    assert page.status_code == 200
    assert f"/inbox/threads/{thread.public_id}/" in page.content.decode()  # the contact's own thread


def test_api_merge_replayed_with_the_same_idempotency_key(tenant_a: Company, api_a: Client) -> None:
    a, b = ContactFactory(), ContactFactory()
    path = f"/api/v1/contacts/{a.public_id}/merge/"
    first = post_json(api_a, path, {"from": str(b.public_id)}, key="merge-1")
    again = post_json(api_a, path, {"from": str(b.public_id)}, key="merge-1")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert PrivacyLog.objects.filter(action="merge_contacts", from_public_id=b.public_id).count() == 1
