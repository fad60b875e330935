"""A thread deleted with its contact (REST API `DELETE /api/v1/contacts/{id}/`,
inbox/services/contacts.py contact_delete): the agents' open thread lists take its row out
at the next live update, and an open page of it goes to the list saying it was deleted
(inbox/views.py thread_list_updates, thread_updates and thread_detail), as for a merge."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from conftest import Persona, login_client
from inbox.models import Contact, PrivacyLog, Thread
from inbox.services import contacts as contact_services
from inbox.services import merge
from inbox.tests.factories import ContactFactory, MessageFactory, PhoneNumberFactory, ThreadFactory
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

HTMX = {"HTTP_HX_REQUEST": "true"}
InA = Callable[[], AbstractContextManager[None]]
DELETED = "This conversation was deleted."


def _detail(thread: Thread) -> str:
    return f"/inbox/threads/{thread.public_id}/"


def _updates(thread: Thread) -> str:
    return f"/inbox/threads/{thread.public_id}/updates/"


def _customer_with_two_threads() -> tuple[Contact, Thread, Thread]:
    contact = ContactFactory(name="Lene Löschmich", phone="+4915122200301")
    first = ThreadFactory(contact=contact, phone_number=PhoneNumberFactory())
    second = ThreadFactory(contact=contact, phone_number=PhoneNumberFactory())
    MessageFactory(thread=first, text="Bitte löschen Sie meine Daten")
    MessageFactory(thread=first, text="Danke")
    MessageFactory(thread=second, text="Hallo")
    return contact, first, second


def test_the_list_poll_takes_out_rows_of_threads_deleted_through_the_api(
    tenant_a: Company, api_a: Client, bob_client: Client, in_a: InA
) -> None:
    # given: bob's list was loaded before the contact was deleted; an older deletion is
    # outside the poll's window, and another customer's thread stays
    with in_a():
        old = ThreadFactory()
        contact_services.contact_delete(contact=old.contact)
        PrivacyLog.objects.filter(from_public_id=old.public_id).update(created_at=timezone.now() - timedelta(minutes=5))
        contact, first, second = _customer_with_two_threads()
        other = ThreadFactory()
    since = timezone.now().isoformat()
    # when
    assert api_a.delete(f"/api/v1/contacts/{contact.public_id}/").status_code == 204
    with CaptureQueriesContext(connection) as queries:
        html = bob_client.get("/inbox/updates/", {"since": since}).content.decode()
    # then: both deleted rows go, nothing else
    assert f'data-remove-id="thread-{first.public_id}"' in html
    assert f'data-remove-id="thread-{second.public_id}"' in html
    assert f'data-remove-id="thread-{other.public_id}"' not in html
    assert f"thread-{old.public_id}" not in html
    assert f"thread-{contact.public_id}" not in html
    # with one query on the log, as for merges alone
    assert len([q for q in queries.captured_queries if "inbox_privacylog" in q["sql"]]) == 1


def test_the_list_poll_takes_out_merged_and_deleted_rows_together(
    tenant_a: Company, alice: Persona, alice_client: Client
) -> None:
    # given
    into, source, doomed = ThreadFactory(), ThreadFactory(), ThreadFactory()
    since = timezone.now().isoformat()
    # when
    merge.thread_merge(into=into, source=source, actor=alice.user)
    contact_services.contact_delete(contact=doomed.contact, actor=alice.user)
    html = alice_client.get("/inbox/updates/", {"since": since}).content.decode()
    # then
    assert f'data-remove-id="thread-{source.public_id}"' in html
    assert f'data-remove-id="thread-{doomed.public_id}"' in html
    assert f'<li id="thread-{into.public_id}"' in html


def test_the_deletion_is_logged_with_the_delete(tenant_a: Company, alice: Persona) -> None:
    # given
    contact, first, second = _customer_with_two_threads()
    lonely = ContactFactory()
    # when
    contact_services.contact_delete(contact=contact, actor=alice.user)
    contact_services.contact_delete(contact=lonely)
    # then: a summary row and one row per thread, none tied to a surviving thread
    rows = PrivacyLog.objects.filter(contact_public_id=contact.public_id).order_by("id")
    assert [(r.action, r.from_public_id, r.counts) for r in rows] == [
        (PrivacyLog.Action.DELETE_CONTACT, None, {"threads": 2, "messages": 3}),
        (PrivacyLog.Action.DELETE_CONTACT, first.public_id, {"messages": 2}),
        (PrivacyLog.Action.DELETE_CONTACT, second.public_id, {"messages": 1}),
    ]
    assert {(r.actor, r.actor_label, r.thread_id) for r in rows} == {(alice.user, alice.user.email, None)}
    lonely_rows = PrivacyLog.objects.filter(contact_public_id=lonely.public_id)
    assert [(r.from_public_id, r.counts, r.actor_label) for r in lonely_rows] == [
        (None, {"threads": 0, "messages": 0}, "")
    ]
    assert not Contact.objects.filter(pk__in=[contact.pk, lonely.pk]).exists()
    assert not Thread.objects.filter(pk__in=[first.pk, second.pk]).exists()
    # a deleted thread was not merged anywhere
    assert merge.thread_merged_into(public_id=first.public_id) is None
    assert merge.thread_was_deleted(public_id=first.public_id)
    # deleting a contact already gone does nothing
    contact_services.contact_delete(contact=contact)
    assert PrivacyLog.objects.filter(contact_public_id=contact.public_id).count() == 3


def test_the_poll_of_a_thread_deleted_meanwhile_takes_the_page_to_the_list(
    tenant_a: Company, bob_client: Client
) -> None:
    # given: bob has the thread open when its contact is deleted
    thread = ThreadFactory()
    since = timezone.now().isoformat()
    assert bob_client.get(_updates(thread), {"since": since}, **HTMX).status_code == 200
    contact_services.contact_delete(contact=thread.contact)
    # when: his page polls
    polled = bob_client.get(_updates(thread), {"since": since}, **HTMX)
    # then: htmx goes to the list, which says why
    assert polled.status_code == 200
    assert polled["HX-Redirect"] == "/inbox/"
    assert "data-live-cursor" not in polled.content.decode()
    landed = bob_client.get(polled["HX-Redirect"]).content.decode()
    assert DELETED in landed
    assert "That thread no longer exists." not in landed
    # a request that is not htmx's poll gets the plain 404 it always did
    assert bob_client.get(_updates(thread), {"since": since}).status_code == 404


def test_opening_a_deleted_thread_leads_to_the_list(tenant_a: Company, alice_client: Client) -> None:
    # given: a bookmark or an old tab with a thread deleted with its contact
    thread = ThreadFactory()
    contact_services.contact_delete(contact=thread.contact)
    # when
    followed = alice_client.get(_detail(thread), follow=True)
    # then
    assert followed.redirect_chain == [("/inbox/", 302)]
    assert DELETED in followed.content.decode()
    # and a thread never known stays a 404
    assert alice_client.get(f"/inbox/threads/{uuid.uuid4()}/").status_code == 404


def test_other_companies_and_inactive_agents_are_not_told(tenant_a: Company, charlie_client: Client) -> None:
    # given: a thread of company A deleted with its contact, and an agent of A deactivated
    thread = ThreadFactory()
    agent = UserFactory(role=User.Role.AGENT)
    client = login_client(Persona(agent, tenant_a))
    contact_services.contact_delete(contact=thread.contact)
    User.objects.filter(pk=agent.pk).update(is_active=False)
    # when / then: company B's log does not know it
    assert charlie_client.get(_detail(thread)).status_code == 404
    polled = charlie_client.get(_updates(thread), {"since": timezone.now().isoformat()}, **HTMX)
    assert polled["HX-Redirect"] == "/inbox/"
    assert DELETED not in charlie_client.get("/inbox/").content.decode()
    # and the deactivated agent learns nothing
    response = client.get(_detail(thread))
    assert response.status_code == 404 or response["Location"].startswith("/login/")
    assert DELETED not in client.get("/inbox/", follow=True).content.decode()


def test_the_list_polls_log_look_can_use_an_index(tenant_a: Company) -> None:
    # given: the list poll's look and a gone thread's look, as they run
    with CaptureQueriesContext(connection) as queries:
        merge.thread_ids_gone(since=timezone.now() - timedelta(seconds=5))
        merge.thread_was_deleted(public_id=uuid.uuid4())
        merge.thread_merged_into(public_id=uuid.uuid4())
    # when: planned as for a big log (a tiny table is read whole otherwise)
    plans = []
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        for query in [q for q in queries.captured_queries if q["sql"].startswith("SELECT")]:
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    # then: the created_at index for the window, privacylog_from for an id (deleted or merged)
    assert "Index" in plans[0], plans[0]
    assert "created_at" in plans[0], plans[0]
    assert "privacylog_from" in plans[1], plans[1]
    assert "privacylog_from" in plans[2], plans[2]
