"""Merging a thread into another from the browser app: the pick and confirm pages, the
errors, the merge event arriving live in the surviving thread, and the merged-away thread's
open pages and list rows following it there (inbox/views_privacy.py, inbox/views.py
thread_detail, thread_updates and thread_list_updates)."""

from __future__ import annotations

from datetime import timedelta

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from conftest import Persona, login_client
from inbox.models import Contact, Message, Note, PrivacyLog, Thread
from inbox.services import merge
from inbox.tests.factories import (
    ContactFactory,
    LabelFactory,
    MessageFactory,
    NoteFactory,
    PhoneNumberFactory,
    ThreadFactory,
)
from tenants.models import Company


def _pick(thread: Thread) -> str:
    return f"/inbox/threads/{thread.public_id}/merge/"


def _confirm(source: Thread, into: Thread) -> str:
    return f"/inbox/threads/{source.public_id}/merge/{into.public_id}/"


def _pair() -> tuple[Thread, Thread]:
    """One customer with a thread on each of two numbers: the second is merged into the first."""
    contact = ContactFactory(name="Tilda Zweifach", phone="+4915122200001")
    into = ThreadFactory(contact=contact, phone_number=PhoneNumberFactory())
    source = ThreadFactory(contact=contact, phone_number=PhoneNumberFactory(), unread_count=1)
    MessageFactory(thread=into, text="Reservierung für Freitag")
    MessageFactory(thread=source, text="Geht auch Samstag?")
    NoteFactory(thread=source, body="Stammgast")
    source.labels.add(LabelFactory(name="reservierung"))
    return into, source


def test_the_action_is_offered_to_owners_and_admins_only(
    tenant_a: Company, alice_client: Client, bob_client: Client
) -> None:
    _into, source = _pair()
    assert "Merge into another thread…" in alice_client.get(f"/inbox/threads/{source.public_id}/").content.decode()
    assert "Merge into another thread…" not in bob_client.get(f"/inbox/threads/{source.public_id}/").content.decode()


def test_agents_get_a_readable_403_and_nothing_changes(tenant_a: Company, bob_client: Client) -> None:
    # given
    into, source = _pair()
    # when
    responses = [
        bob_client.get(_pick(source)),
        bob_client.get(_confirm(source, into)),
        bob_client.post(_confirm(source, into)),
    ]
    # then
    assert [r.status_code for r in responses] == [403, 403, 403]
    assert "Only owners and admins can merge contacts and threads." in responses[2].content.decode()
    assert Thread.objects.filter(pk=source.pk).exists()
    assert not PrivacyLog.objects.filter(action=PrivacyLog.Action.MERGE_THREADS).exists()


def test_an_admin_may_merge(tenant_a: Company) -> None:
    into, source = _pair()
    admin = login_client(Persona(UserFactory(role=User.Role.ADMIN), tenant_a))
    response = admin.post(_confirm(source, into))
    assert response.status_code == 302
    assert not Thread.objects.filter(pk=source.pk).exists()


def test_the_pick_page_lists_the_contacts_other_threads_first_and_searches(
    tenant_a: Company, alice_client: Client
) -> None:
    # given: the contact's other thread is older than another customer's
    into, source = _pair()
    Thread.objects.filter(pk=into.pk).update(last_message_at=timezone.now() - timedelta(days=30))
    stranger = ThreadFactory(contact=ContactFactory(name="Quirin Fremd", phone="+4915122200999"))
    # when
    listed = alice_client.get(_pick(source)).content.decode()
    by_name = alice_client.get(_pick(source), {"q": "quirin"}).content.decode()
    by_phone = alice_client.get(_pick(source), {"q": "22200999"}).content.decode()
    nothing = alice_client.get(_pick(source), {"q": "Niemand"})
    # then
    assert listed.index(_confirm(source, into)) < listed.index(_confirm(source, stranger))
    assert f"/merge/{source.public_id}/" not in listed  # never offered to merge with itself
    assert _confirm(source, stranger) in by_name
    assert _confirm(source, into) not in by_name
    assert _confirm(source, stranger) in by_phone
    assert nothing.status_code == 200
    assert "No other thread matches." in nothing.content.decode()


def test_get_shows_what_moves_and_changes_nothing(tenant_a: Company, alice_client: Client) -> None:
    # given
    into, source = _pair()
    # when
    response = alice_client.get(_confirm(source, into))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "1 message" in html
    assert "1 internal note" in html
    assert "Labels: reservierung" in html
    assert "This cannot be undone." in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert Thread.objects.filter(pk=source.pk).exists()
    assert Message.objects.filter(thread=source).count() == 1
    assert not PrivacyLog.objects.filter(action=PrivacyLog.Action.MERGE_THREADS).exists()


def test_merging_moves_everything_and_lands_in_the_surviving_thread(tenant_a: Company, alice_client: Client) -> None:
    # given
    into, source = _pair()
    # when
    response = alice_client.post(_confirm(source, into), follow=True)
    # then
    html = response.content.decode()
    assert response.redirect_chain[-1] == (f"/inbox/threads/{into.public_id}/", 302)
    assert "was merged into this one. Its messages are here now." in html
    assert "Merged from the thread with Tilda Zweifach via" in html
    assert "Geht auch Samstag?" in html
    assert not Thread.objects.filter(pk=source.pk).exists()
    assert Message.objects.filter(thread=into).count() == 2
    assert Note.objects.filter(thread=into).count() == 1
    assert list(into.labels.values_list("name", flat=True)) == ["reservierung"]


def test_a_thread_cannot_be_merged_into_itself(tenant_a: Company, alice_client: Client) -> None:
    _into, source = _pair()
    shown = alice_client.get(_confirm(source, source))
    posted = alice_client.post(_confirm(source, source))
    for response in (shown, posted):
        assert response.status_code == 400
        assert "A thread cannot be merged with itself." in response.content.decode()
        assert 'type="submit">Merge<' not in response.content.decode()
    assert Thread.objects.filter(pk=source.pk).exists()


def test_a_second_merge_of_the_same_thread_leads_to_where_it_went(tenant_a: Company, alice_client: Client) -> None:
    # given: merged once (a double click, another tab)
    into, source = _pair()
    alice_client.post(_confirm(source, into))
    # when
    again = alice_client.post(_confirm(source, into), follow=True)
    page = alice_client.get(_pick(source), follow=True)
    # then
    for response in (again, page):
        assert response.redirect_chain[-1] == (f"/inbox/threads/{into.public_id}/", 302)
        assert "That thread was already merged into this one." in response.content.decode()
    assert PrivacyLog.objects.filter(action=PrivacyLog.Action.MERGE_THREADS).count() == 1


def test_gone_threads_give_a_readable_message(tenant_a: Company, alice_client: Client) -> None:
    # given: the picked thread was merged elsewhere meanwhile; a thread that never existed here
    into, source = _pair()
    other = ThreadFactory()
    into_id = into.public_id
    into.delete()
    # when
    picked_gone = alice_client.post(f"/inbox/threads/{source.public_id}/merge/{into_id}/", follow=True)
    never = alice_client.get(f"/inbox/threads/{into_id}/merge/{other.public_id}/", follow=True)
    # then
    assert picked_gone.redirect_chain[-1] == (_pick(source), 302)
    assert "The thread you picked no longer exists. Please pick another one." in picked_gone.content.decode()
    assert never.redirect_chain[-1] == ("/inbox/", 302)
    assert "That thread no longer exists." in never.content.decode()
    assert Thread.objects.filter(pk__in=[source.pk, other.pk]).count() == 2


def test_the_merge_needs_the_csrf_token(tenant_a: Company, alice: Persona) -> None:
    into, source = _pair()
    strict = Client(HTTP_HOST=alice.host, enforce_csrf_checks=True)
    strict.force_login(alice.user)
    refused = strict.post(_confirm(source, into))
    assert refused.status_code == 403
    assert Thread.objects.filter(pk=source.pk).exists()
    # the form's own token is accepted
    page = strict.get(_confirm(source, into))
    token = page.content.decode().split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    assert strict.post(_confirm(source, into), {"csrfmiddlewaretoken": token}).status_code == 302
    assert not Thread.objects.filter(pk=source.pk).exists()


def test_the_merge_event_and_the_moved_messages_arrive_by_poll(tenant_a: Company, alice_client: Client) -> None:
    # given: an agent opened the surviving thread a while ago; its older message is on the page
    into, source = _pair()
    Message.objects.filter(thread=source).update(created_at=timezone.now() - timedelta(hours=2))
    since = timezone.now() - timedelta(seconds=1)
    quiet = alice_client.get(f"/inbox/threads/{into.public_id}/updates/", {"since": since.isoformat()})
    assert "Merged from" not in quiet.content.decode()
    # when: someone merges the other thread into it
    alice_client.post(_confirm(source, into))
    polled = alice_client.get(f"/inbox/threads/{into.public_id}/updates/", {"since": since.isoformat()})
    # then: the event and the (older) moved message come with the next poll
    html = polled.content.decode()
    log = PrivacyLog.objects.get(action=PrivacyLog.Action.MERGE_THREADS)
    moved = Message.objects.get(text="Geht auch Samstag?")
    assert polled.status_code == 200
    assert f'id="s-{log.public_id}"' in html
    assert "Merged from the thread with Tilda Zweifach via" in html
    assert f'id="m-{moved.public_id}"' in html
    assert html.count(f'id="m-{moved.public_id}"') == 1
    # and later polls no longer repeat them
    PrivacyLog.objects.filter(pk=log.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    Thread.objects.filter(pk=into.pk).update(updated_at=timezone.now() - timedelta(minutes=1))
    later = alice_client.get(f"/inbox/threads/{into.public_id}/updates/", {"since": timezone.now().isoformat()})
    assert f'id="s-{log.public_id}"' not in later.content.decode()
    assert f'id="m-{moved.public_id}"' not in later.content.decode()


# --- the merged-away thread's pages follow it ------------------------------------------------

HTMX = {"HTTP_HX_REQUEST": "true"}


def _detail(thread: Thread) -> str:
    return f"/inbox/threads/{thread.public_id}/"


def _updates(thread: Thread) -> str:
    return f"/inbox/threads/{thread.public_id}/updates/"


def test_opening_a_merged_away_thread_leads_to_the_surviving_one(tenant_a: Company, alice_client: Client) -> None:
    # given: a bookmark or an old tab with the thread that was merged away
    into, source = _pair()
    alice_client.post(_confirm(source, into))
    # when
    response = alice_client.get(_detail(source), {"view": "mine"})
    followed = alice_client.get(_detail(source), follow=True)
    # then: a redirect (the list pane's filters kept) and a notice, not a 404
    assert response.status_code == 302
    assert response["Location"] == f"{_detail(into)}?view=mine"
    assert followed.redirect_chain == [(_detail(into), 302)]
    assert "That thread was merged into this one." in followed.content.decode()
    assert "Geht auch Samstag?" in followed.content.decode()


def test_a_thread_merged_twice_leads_to_where_its_messages_are_now(tenant_a: Company, alice_client: Client) -> None:
    # given: A merged into B, then B into C
    into, source = _pair()
    final = ThreadFactory(contact=into.contact)
    alice_client.post(_confirm(source, into))
    alice_client.post(_confirm(into, final))
    # when / then
    for gone in (source, into):
        response = alice_client.get(_detail(gone))
        assert (response.status_code, response["Location"]) == (302, _detail(final))


def test_gone_threads_without_a_visible_survivor_stay_404(
    tenant_a: Company, alice_client: Client, charlie_client: Client
) -> None:
    # given: a merged pair, a thread merged into one deleted later, and a deleted thread
    into, source = _pair()
    alice_client.post(_confirm(source, into))
    doomed_into, doomed_source = ThreadFactory(), ThreadFactory()
    alice_client.post(_confirm(doomed_source, doomed_into))
    doomed_into.contact.delete()
    deleted = ThreadFactory()
    deleted.delete()
    # when / then: nothing to lead to; and another company does not see this company's log
    assert alice_client.get(_detail(doomed_source)).status_code == 404
    assert alice_client.get(_detail(deleted)).status_code == 404
    assert charlie_client.get(_detail(source)).status_code == 404
    polled = charlie_client.get(_updates(source), {"since": timezone.now().isoformat()}, **HTMX)
    assert polled["HX-Redirect"] == "/inbox/"


def test_inactive_agents_are_not_led_anywhere(tenant_a: Company, alice_client: Client) -> None:
    # given: a merged pair, and an agent deactivated while still logged in
    into, source = _pair()
    alice_client.post(_confirm(source, into))
    agent = UserFactory(role=User.Role.AGENT)
    client = login_client(Persona(agent, tenant_a))
    User.objects.filter(pk=agent.pk).update(is_active=False)
    # when
    response = client.get(_detail(source))
    # then: no hint where the thread went
    assert response.status_code in (302, 404)
    assert _detail(into) not in response.get("Location", "")


def test_the_poll_of_a_merged_away_thread_takes_the_page_to_the_surviving_one(
    tenant_a: Company, alice_client: Client, bob_client: Client
) -> None:
    # given: bob has the thread open that alice merges away
    into, source = _pair()
    since = timezone.now().isoformat()
    assert bob_client.get(_updates(source), {"since": since}, **HTMX).status_code == 200
    alice_client.post(_confirm(source, into))
    # when: his page polls
    polled = bob_client.get(_updates(source), {"since": since}, **HTMX)
    # then: htmx is told to go to the surviving thread, which shows why
    assert polled.status_code == 200
    assert polled["HX-Redirect"] == _detail(into)
    assert "data-live-cursor" not in polled.content.decode()
    landed = bob_client.get(polled["HX-Redirect"]).content.decode()
    assert "The thread you had open was merged into this one." in landed
    assert "Geht auch Samstag?" in landed
    # a request that is not htmx's poll gets the plain 404 it always did
    assert bob_client.get(_updates(source), {"since": since}).status_code == 404


def test_the_poll_of_a_deleted_thread_takes_the_page_to_the_list(tenant_a: Company, bob_client: Client) -> None:
    # given: the thread's contact is deleted while bob has it open
    thread = ThreadFactory()
    thread.contact.delete()
    # when
    polled = bob_client.get(_updates(thread), {"since": timezone.now().isoformat()}, **HTMX)
    # then
    assert polled["HX-Redirect"] == "/inbox/"
    assert "That thread no longer exists." in bob_client.get("/inbox/").content.decode()


def test_the_list_poll_takes_out_rows_of_merged_away_threads(tenant_a: Company, alice_client: Client) -> None:
    # given: the list was loaded before the merge; an older merge is outside the window
    old_into, old_source = ThreadFactory(), ThreadFactory()
    alice_client.post(_confirm(old_source, old_into))
    PrivacyLog.objects.filter(from_public_id=old_source.public_id).update(
        created_at=timezone.now() - timedelta(minutes=5)
    )
    into, source = _pair()
    since = timezone.now().isoformat()
    alice_client.post(_confirm(source, into))
    # when
    with CaptureQueriesContext(connection) as queries:
        html = alice_client.get("/inbox/updates/", {"since": since}).content.decode()
    # then: the merged-away row goes, the surviving row comes with its new preview
    assert f'data-remove-id="thread-{source.public_id}"' in html
    assert f'<li id="thread-{into.public_id}"' in html
    assert f'data-remove-id="thread-{into.public_id}"' not in html
    assert f"thread-{old_source.public_id}" not in html
    # with one query on the merge log
    assert len([q for q in queries.captured_queries if "inbox_privacylog" in q["sql"]]) == 1


def test_the_list_poll_after_a_contact_merge_removes_merged_threads_only(
    tenant_a: Company, alice: Persona, alice_client: Client
) -> None:
    # given: the duplicate has a thread on the kept contact's number (merged) and one on another (moved)
    number = PhoneNumberFactory()
    keep = ContactFactory(name="Kai Behalten", phone="+4915122200101")
    dup = ContactFactory(name="Kai Doppelt", phone="+4915122200102")
    kept = ThreadFactory(contact=keep, phone_number=number)
    merged = ThreadFactory(contact=dup, phone_number=number)
    moved = ThreadFactory(contact=dup, phone_number=PhoneNumberFactory())
    since = timezone.now().isoformat()
    # when
    merge.contact_merge(into=keep, source=dup, actor=alice.user)
    html = alice_client.get("/inbox/updates/", {"since": since}).content.decode()
    # then
    assert f'data-remove-id="thread-{merged.public_id}"' in html
    assert f'data-remove-id="thread-{moved.public_id}"' not in html
    assert f'<li id="thread-{moved.public_id}"' in html
    assert f'<li id="thread-{kept.public_id}"' in html
    assert not Contact.objects.filter(pk=dup.pk).exists()
