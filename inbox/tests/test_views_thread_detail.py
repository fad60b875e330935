"""/inbox/threads/<id>/: one conversation, older pages, live updates and presence."""

from __future__ import annotations

from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import Persona
from inbox.models import Message, Thread
from inbox.services import contacts as contact_services
from inbox.tests.factories import (
    CannedReplyFactory,
    LabelFactory,
    MessageFactory,
    NoteFactory,
    OutboundMessageFactory,
    TemplateFactory,
    ThreadFactory,
)


def _url(thread: Thread, suffix: str = "") -> str:
    return f"/inbox/threads/{thread.public_id}/{suffix}"


def _thread(persona: Persona, **kwargs: object) -> Thread:
    kwargs.setdefault("last_message_at", timezone.now())
    with schema_context(persona.company.schema_name):
        return ThreadFactory(**kwargs)


def test_requires_login(alice: Persona, client_a: Client) -> None:
    # given
    thread = _thread(alice)
    # when
    response = client_a.get(_url(thread))
    # then
    assert response.status_code == 302


def test_charlie_gets_404_for_a_thread_of_company_a(alice: Persona, charlie_client: Client) -> None:
    # given
    thread = _thread(alice)
    # when
    responses = [
        charlie_client.get(_url(thread)),
        charlie_client.get(_url(thread, "updates/"), {"since": timezone.now().isoformat()}),
        charlie_client.get(_url(thread, "messages/"), {"before": "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMH4x"}),
        charlie_client.post(_url(thread, "typing/")),
    ]
    # then
    assert [r.status_code for r in responses] == [404, 404, 404, 404]


def test_shows_messages_notes_and_marks_the_thread_read(alice: Persona, bob: Persona, bob_client: Client) -> None:
    # given
    thread = _thread(alice, unread_count=2, window_open=True)
    with schema_context(alice.company.schema_name):
        MessageFactory(thread=thread, text="Hello, is the shop open?")
        OutboundMessageFactory(thread=thread, text="Yes until 8", sent_by=alice.user, accepted=True)
        NoteFactory(thread=thread, author=alice.user, body="@bob can you check the stock?")
    # when
    response = bob_client.get(_url(thread))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Hello, is the shop open?" in html
    assert "Yes until 8" in html
    assert 'class="tl-item note"' in html
    assert '<mark class="mention">@bob</mark>' in html
    with schema_context(alice.company.schema_name):
        thread.refresh_from_db()
    assert thread.unread_count == 0


def test_delivery_ticks_and_failures_are_readable(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice, window_open=True)
    with schema_context(alice.company.schema_name):
        for status in ("queued", "sent", "delivered", "read"):
            OutboundMessageFactory(thread=thread, text=f"message {status}", status=status)
        OutboundMessageFactory(
            thread=thread,
            status=Message.Status.FAILED,
            error_code=131026,
            error_title="Message undeliverable",
            error_detail="The customer's phone cannot receive this message.",
        )
    # when
    html = alice_client.get(_url(thread)).content.decode()
    # then
    for status in ("queued", "sent", "delivered", "read", "failed"):
        assert f'class="tick tick--{status}"' in html
    assert "<strong>Message undeliverable</strong>" in html
    assert "The customer&#x27;s phone cannot receive this message." in html
    assert "(code 131026)" in html


def test_media_image_inline_document_as_download_and_unsupported_named(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    with schema_context(alice.company.schema_name):
        image = MessageFactory(
            thread=thread, type="image", text="my receipt", media_file=ContentFile(b"\xff\xd8jpeg", name="receipt.jpg")
        )
        document = MessageFactory(
            thread=thread,
            type="document",
            text="",
            media_filename="invoice.pdf",
            media_file=ContentFile(b"%PDF-1.4", name="invoice.pdf"),
        )
        MessageFactory(thread=thread, type="unsupported", text="")
    # when
    html = alice_client.get(_url(thread)).content.decode()
    # then
    assert f'<img class="media-image" src="{image.media_file.url}" alt="my receipt"' in html
    assert (
        f'<a class="media-download" href="{document.media_file.url}" download>Download document: invoice.pdf</a>'
        in html
    )
    assert "This message type is not supported here." in html


def test_message_text_is_escaped(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice, contact__name="<b>Mallory</b>", contact__attributes={"note": "<script>x()</script>"})
    with schema_context(alice.company.schema_name):
        MessageFactory(thread=thread, text="<script>alert('pwned')</script>\nsecond line")
        NoteFactory(thread=thread, body="<img src=x onerror=alert(2)> @alice")
    # when
    html = alice_client.get(_url(thread)).content.decode()
    # then
    assert "<script>alert(" not in html
    assert "<script>x()" not in html
    assert "<b>Mallory</b>" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;<br>second line" in html


def test_shows_newest_50_and_loads_older_by_keyset(alice: Persona, alice_client: Client) -> None:
    # given: 55 messages a minute apart
    thread = _thread(alice)
    start = timezone.now() - timedelta(hours=2)
    with schema_context(alice.company.schema_name):
        made = [MessageFactory(thread=thread, text=f"number {i:02d}") for i in range(55)]
        for i, message in enumerate(made):
            Message.objects.filter(pk=message.pk).update(created_at=start + timedelta(minutes=i))
    # when
    first = alice_client.get(_url(thread))
    older = alice_client.get(
        _url(thread, "messages/"), {"before": first.context["older_cursor"]}, headers={"HX-Request": "true"}
    )
    # then
    first_html, older_html = first.content.decode(), older.content.decode()
    assert "number 05" in first_html
    assert "number 54" in first_html
    assert "number 04" not in first_html
    assert all(f"number {i:02d}" in older_html for i in range(5))
    assert "number 05" not in older_html
    assert 'id="older" class="older" hx-swap-oob="true"></div>' in older_html  # nothing older


def test_older_needs_a_cursor(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    # when
    responses = [
        alice_client.get(_url(thread, "messages/")),
        alice_client.get(_url(thread, "messages/"), {"before": "x"}),
    ]
    # then
    assert [r.status_code for r in responses] == [400, 400]


def test_contact_panel_shows_attributes_consent_and_other_threads(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice, contact__name="Dora", contact__attributes={"city": "Berlin"})
    with schema_context(alice.company.schema_name):
        contact_services.consent_record(contact=thread.contact, action="opt_out", source="keyword", detail="STOP")
        other = ThreadFactory(contact=thread.contact)
    # when
    html = alice_client.get(_url(thread)).content.decode()
    # then
    assert "<dt>city</dt><dd>Berlin</dd>" in html
    assert "Opted out of all business messages" in html
    assert "Opt-out (all business-initiated messages) · keyword: “STOP”" in html
    assert f'href="/inbox/threads/{other.public_id}/"' in html


def test_composer_offers_text_inside_the_window_and_templates_outside(alice: Persona, alice_client: Client) -> None:
    # given
    open_thread = _thread(alice, window_open=True)
    closed_thread = _thread(alice, last_inbound_at=timezone.now() - timedelta(hours=25))
    with schema_context(alice.company.schema_name):
        TemplateFactory(name="order_shipped")
        TemplateFactory(name="draft_one", status="draft")
        CannedReplyFactory(shortcut="thanks", body="Thanks a lot!")
    # when
    open_html = alice_client.get(_url(open_thread)).content.decode()
    closed_html = alice_client.get(_url(closed_thread)).content.decode()
    # then
    assert 'name="text"' in open_html
    assert "Reply window open" in open_html
    assert "data-countdown" in open_html
    assert '"shortcut": "thanks"' in open_html
    assert 'name="text"' not in closed_html
    assert "The 24-hour window closed" in closed_html
    assert "order_shipped (en)" in closed_html
    assert "draft_one" not in closed_html


def test_updates_bring_new_messages_and_watched_status_changes(alice: Persona, alice_client: Client) -> None:
    # given: a page loaded a minute ago showing a queued message
    thread = _thread(alice, window_open=True)
    with schema_context(alice.company.schema_name):
        watched = OutboundMessageFactory(thread=thread, text="our answer")
        Message.objects.filter(pk=watched.pk).update(created_at=timezone.now() - timedelta(minutes=1))
    since = timezone.now() - timedelta(seconds=30)
    # when: the customer writes and the answer is delivered (stamped with the provider's older time)
    with schema_context(alice.company.schema_name):
        MessageFactory(thread=thread, text="thanks, got it")
        Message.objects.filter(pk=watched.pk).update(
            status="delivered", status_rank=3, status_at=timezone.now() - timedelta(minutes=1)
        )
    response = alice_client.get(_url(thread, "updates/"), {"since": since.isoformat(), "watch": str(watched.public_id)})
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "thanks, got it" in html
    assert f'id="m-{watched.public_id}"' in html
    assert "tick--delivered" in html


def test_updates_skip_what_did_not_change(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    with schema_context(alice.company.schema_name):
        old = MessageFactory(thread=thread, text="old news")
        Message.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(minutes=5))
        Thread.objects.filter(pk=thread.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    # when
    html = alice_client.get(_url(thread, "updates/"), {"since": timezone.now().isoformat()}).content.decode()
    # then
    assert "old news" not in html
    assert 'id="thread-header"' not in html
    assert 'id="presence"' in html


def test_updates_need_a_since(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    # when
    response = alice_client.get(_url(thread, "updates/"), {"since": "yesterday"})
    # then
    assert response.status_code == 400


def test_shows_who_else_is_viewing_and_typing(alice: Persona, alice_client: Client, bob_client: Client) -> None:
    # given: bob has the thread open
    thread = _thread(alice)
    bob_client.get(_url(thread))
    # when
    viewing = alice_client.get(_url(thread, "updates/"), {"since": timezone.now().isoformat()}).content.decode()
    typed = bob_client.post(_url(thread, "typing/"))
    typing = alice_client.get(_url(thread, "updates/"), {"since": timezone.now().isoformat()}).content.decode()
    bobs_view = bob_client.get(_url(thread, "updates/"), {"since": timezone.now().isoformat()}).content.decode()
    # then
    assert "Bob Agent is viewing" in viewing
    assert typed.status_code == 204
    assert "Bob Agent is typing…" in typing
    assert "Alice Owner is viewing" in bobs_view
    assert "Bob Agent is" not in bobs_view


def test_typing_is_post_only(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    # when
    response = alice_client.get(_url(thread, "typing/"))
    # then
    assert response.status_code == 405


def _count_thread_queries(persona: Persona, client: Client, thread: Thread, how_many: int) -> int:
    with schema_context(persona.company.schema_name):
        label = LabelFactory(name="counted")
        thread.labels.add(label)
        for i in range(how_many):
            MessageFactory(thread=thread)
            OutboundMessageFactory(thread=thread, sent_by=persona.user, accepted=True)
            NoteFactory(thread=thread, author=persona.user, body=f"@bob note {i}")
            other = ThreadFactory(last_message_at=timezone.now(), assignee=persona.user)
            other.labels.add(label)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(_url(thread)).status_code == 200
    return len(queries.captured_queries)


def test_query_count_does_not_grow_with_messages_notes_or_rows(
    alice: Persona, alice_client: Client, django_assert_num_queries: object
) -> None:
    # given: 5 messages, notes and list rows, then 40 of each
    thread = _thread(alice, window_open=True, assignee=alice.user)
    with_5 = _count_thread_queries(alice, alice_client, thread, 5)
    _count_thread_queries(alice, alice_client, thread, 35)
    # when / then: the page with 40 of each costs what the page with 5 did
    with django_assert_num_queries(with_5):  # type: ignore[operator]
        alice_client.get(_url(thread))
    # domain, session, user, then thread (+ labels), messages, notes, labels, agents, canned
    # replies, consent, other threads, list rows: each after a SET search_path
    assert with_5 <= 30


def test_note_box_offers_the_agents_to_mention(alice: Persona, bob: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice, window_open=True)
    # when
    html = alice_client.get(_url(thread)).content.decode()
    # then
    assert '{"handle": "bob", "name": "Bob Agent"}' in html
    assert "data-mentions" in html
    assert 'href="/settings/canned-replies/"' in html
