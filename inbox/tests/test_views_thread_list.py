"""/inbox/: the thread list, its filters, search, keyset pages and live updates."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import Persona
from inbox.models import Thread
from inbox.tests.factories import LabelFactory, MessageFactory, ThreadFactory

LIST = "/inbox/"
UPDATES = "/inbox/updates/"


def _thread(persona: Persona, **kwargs: object) -> Thread:
    kwargs.setdefault("last_message_at", timezone.now())
    with schema_context(persona.company.schema_name):
        return ThreadFactory(**kwargs)


def test_requires_login(client_a: Client) -> None:
    # when
    response = client_a.get(LIST)
    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_agent_sees_the_companys_threads_with_unread_badges(bob: Persona, bob_client: Client) -> None:
    # given
    thread = _thread(bob, contact__name="Dora Customer", last_message_preview="Where is my pizza?", unread_count=3)
    # when
    response = bob_client.get(LIST)
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="thread-{thread.public_id}"' in html
    assert "Dora Customer" in html
    assert "Where is my pizza?" in html
    assert '<span class="visually-hidden">Unread messages: </span>3</span>' in html


def test_another_companys_threads_are_not_listed(alice: Persona, charlie_client: Client) -> None:
    # given
    thread = _thread(alice, contact__name="Acme Only Customer")
    # when
    response = charlie_client.get(LIST)
    # then
    assert response.status_code == 200
    assert str(thread.public_id) not in response.content.decode()
    assert "Acme Only Customer" not in response.content.decode()


def test_filters_mine_unassigned_status_and_label(alice: Persona, bob: Persona, alice_client: Client) -> None:
    # given
    mine = _thread(alice, assignee=alice.user, contact__name="Mine Customer")
    bobs = _thread(alice, assignee=bob.user, contact__name="Bobs Customer", status=Thread.Status.PENDING)
    nobodys = _thread(alice, contact__name="Nobodys Customer", status=Thread.Status.RESOLVED)
    with schema_context(alice.company.schema_name):
        nobodys.labels.add(LabelFactory(name="vip"))
    # when
    views = {
        "mine": alice_client.get(LIST, {"view": "mine"}).content.decode(),
        "unassigned": alice_client.get(LIST, {"view": "unassigned"}).content.decode(),
        "pending": alice_client.get(LIST, {"status": "pending"}).content.decode(),
        "vip": alice_client.get(LIST, {"label": "vip"}).content.decode(),
        "all": alice_client.get(LIST, {"view": "all"}).content.decode(),
    }
    # then
    ids = {
        name: {t.public_id for t in (mine, bobs, nobodys) if f"thread-{t.public_id}" in html}
        for name, html in views.items()
    }
    assert ids == {
        "mine": {mine.public_id},
        "unassigned": {nobodys.public_id},
        "pending": {bobs.public_id},
        "vip": {nobodys.public_id},
        "all": {mine.public_id, bobs.public_id, nobodys.public_id},
    }


def test_search_matches_name_phone_and_message_text(alice: Persona, alice_client: Client) -> None:
    # given
    by_name = _thread(alice, contact__name="Zebulon Quist")
    by_phone = _thread(alice, contact__phone="+4917612399999")
    by_text = _thread(alice)
    other = _thread(alice, contact__name="Nobody Relevant")
    with schema_context(alice.company.schema_name):
        MessageFactory(thread=by_text, text="My order number is ZX-4711")
    # when
    found = {term: alice_client.get(LIST, {"q": term}).content.decode() for term in ("zebulon", "12399999", "zx-4711")}
    # then
    assert f"thread-{by_name.public_id}" in found["zebulon"]
    assert f"thread-{by_phone.public_id}" in found["12399999"]
    assert f"thread-{by_text.public_id}" in found["zx-4711"]
    assert all(f"thread-{other.public_id}" not in html for html in found.values())


def test_customer_text_is_escaped(alice: Persona, alice_client: Client) -> None:
    # given
    _thread(alice, contact__name="<script>alert('name')</script>", last_message_preview="<img src=x onerror=alert(1)>")
    # when
    html = alice_client.get(LIST).content.decode()
    # then
    assert "<script>alert(" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_refuses_an_unknown_status(alice_client: Client) -> None:
    # when
    response = alice_client.get(LIST, {"status": "deleted"})
    # then
    assert response.status_code == 400


def test_load_more_pages_by_keyset_without_offset_or_count(alice: Persona, alice_client: Client) -> None:
    # given: 53 threads, one without any message yet (sorted first)
    start = timezone.now() - timedelta(hours=1)
    threads = [_thread(alice, last_message_at=start + timedelta(minutes=i)) for i in range(52)]
    threads.append(_thread(alice, last_message_at=None))
    # when
    first = alice_client.get(LIST)
    next_url = first.context["next_query"]
    with CaptureQueriesContext(connection) as queries:
        second = alice_client.get(f"{LIST}?{next_url}", headers={"HX-Request": "true"})
    # then
    first_html, second_html = first.content.decode(), second.content.decode()
    shown_first = [t for t in threads if f"thread-{t.public_id}" in first_html]
    shown_second = [t for t in threads if f"thread-{t.public_id}" in second_html]
    assert len(shown_first) == 50
    assert threads[-1] in shown_first  # no message yet: listed first
    assert len(shown_second) == 3
    assert not set(shown_first) & set(shown_second)
    assert "Load more threads" in first_html
    assert 'id="list-more" class="list-more" hx-swap-oob="true"></div>' in second_html  # no further page
    assert "<html" not in second_html
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "OFFSET" not in sql
    assert "COUNT(" not in sql


def test_a_broken_cursor_is_refused(alice_client: Client) -> None:
    # when
    response = alice_client.get(LIST, {"after": "not-a-cursor"})
    # then
    assert response.status_code == 400


def _count_list_queries(persona: Persona, client: Client, how_many: int) -> int:
    with schema_context(persona.company.schema_name):
        label = LabelFactory(name="counted")
        for _ in range(how_many):
            thread = ThreadFactory(last_message_at=timezone.now(), assignee=persona.user)
            thread.labels.add(label)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST).status_code == 200
    return len(queries.captured_queries)


def test_query_count_does_not_grow_with_the_page(
    alice: Persona, alice_client: Client, django_assert_num_queries: object
) -> None:
    # given
    with_5 = _count_list_queries(alice, alice_client, 5)
    _count_list_queries(alice, alice_client, 25)
    # when / then: 30 threads cost what 5 did
    with django_assert_num_queries(with_5):  # type: ignore[operator]
        alice_client.get(LIST)
    # domain, session, user, threads, their labels, the label filter (each after a SET search_path)
    assert with_5 <= 12


def test_updates_send_changed_threads_only(alice: Persona, alice_client: Client) -> None:
    # given
    old = _thread(alice, contact__name="Old Customer")
    fresh = _thread(alice, contact__name="Fresh Customer")
    with schema_context(alice.company.schema_name):
        Thread.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    since = (timezone.now() - timedelta(minutes=1)).isoformat()
    # when
    response = alice_client.get(UPDATES, {"since": since})
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="thread-{fresh.public_id}"' in html
    assert f"thread-{old.public_id}" not in html
    assert "data-live-cursor=" in html


def test_updates_take_out_threads_that_left_the_filter(alice: Persona, bob: Persona, alice_client: Client) -> None:
    # given: the list shows unassigned threads, and bob just took one
    taken = _thread(alice, assignee=bob.user)
    since = (timezone.now() - timedelta(seconds=30)).isoformat()
    # when
    html = alice_client.get(UPDATES, {"since": since, "view": "unassigned"}).content.decode()
    # then
    assert f'data-remove-id="thread-{taken.public_id}"' in html
    assert f'<li id="thread-{taken.public_id}"' not in html


def test_updates_need_a_since(alice_client: Client) -> None:
    # when
    response = alice_client.get(UPDATES)
    # then
    assert response.status_code == 400


def test_updates_require_login(client_a: Client) -> None:
    # when
    response = client_a.get(UPDATES, {"since": timezone.now().isoformat()})
    # then
    assert response.status_code == 302


def test_updates_cost_one_query_when_nothing_changed(alice: Persona, alice_client: Client) -> None:
    # given
    old = _thread(alice)
    with schema_context(alice.company.schema_name):
        Thread.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    since = timezone.now().isoformat()
    # when
    with CaptureQueriesContext(connection) as queries:
        alice_client.get(UPDATES, {"since": since})
    # then: session, user, and the one look for changes
    thread_queries = [q for q in queries.captured_queries if "inbox_thread" in q["sql"]]
    assert len(thread_queries) == 1


def test_views_read_through_selectors_only() -> None:
    # given: the house-style lint (views obtain threads and messages only through selectors)
    root = Path(__file__).resolve().parents[1]
    sources = [root / "views.py", *sorted((root / "web").glob("**/*.py"))]
    # then
    for source in sources:
        text = source.read_text()
        assert "Thread.objects" not in text, source
        assert "Message.objects" not in text, source
