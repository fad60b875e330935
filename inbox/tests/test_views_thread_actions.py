"""The thread page's actions: reply, template, note, assign/take/unassign, status, labels."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import Persona
from inbox.models import Message, Note, Thread
from inbox.tests.factories import TemplateFactory, ThreadFactory


def _url(thread: Thread, suffix: str) -> str:
    return f"/inbox/threads/{thread.public_id}/{suffix}"


def _thread(persona: Persona, **kwargs: object) -> Thread:
    kwargs.setdefault("last_message_at", timezone.now())
    with schema_context(persona.company.schema_name):
        return ThreadFactory(**kwargs)


def _reload(persona: Persona, thread: Thread) -> Thread:
    with schema_context(persona.company.schema_name):
        thread.refresh_from_db()
        return thread


def _messages(persona: Persona, thread: Thread) -> list[Message]:
    with schema_context(persona.company.schema_name):
        return list(Message.objects.filter(thread=thread).order_by("id"))


def test_reply_queues_a_message_inside_the_window(alice: Persona, bob: Persona, bob_client: Client) -> None:
    # given
    thread = _thread(alice, window_open=True)
    # when
    response = bob_client.post(_url(thread, "reply/"), {"text": "We open at 9 <b>sharp</b>"})
    # then
    assert response.status_code == 302
    assert response["Location"] == _url(thread, "")
    [message] = _messages(alice, thread)
    assert (message.direction, message.status, message.text, message.sent_by_id) == (
        "outbound",
        "queued",
        "We open at 9 <b>sharp</b>",
        bob.user.pk,
    )


def test_reply_by_htmx_answers_a_fresh_composer(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice, window_open=True)
    # when
    response = alice_client.post(_url(thread, "reply/"), {"text": "On its way"}, headers={"HX-Request": "true"})
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith('<section id="composer"')
    assert "On its way" not in html
    assert len(_messages(alice, thread)) == 1


def test_reply_outside_the_window_is_refused(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice, last_inbound_at=timezone.now() - timedelta(hours=30))
    # when
    response = alice_client.post(_url(thread, "reply/"), {"text": "Late answer"}, headers={"HX-Request": "true"})
    # then
    assert response.status_code == 400
    assert "The 24-hour window is closed" in response.content.decode()
    assert _messages(alice, thread) == []


def test_empty_reply_is_refused(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice, window_open=True)
    # when
    response = alice_client.post(_url(thread, "reply/"), {"text": ""})
    # then
    assert response.status_code == 302
    assert _messages(alice, thread) == []


def test_template_reply_outside_the_window(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice, last_inbound_at=timezone.now() - timedelta(hours=30))
    with schema_context(alice.company.schema_name):
        template = TemplateFactory(name="order_shipped")
    # when
    response = alice_client.post(
        _url(thread, "reply-template/"), {"template": str(template.public_id), "parameters": "Dora\nA-17"}
    )
    # then
    assert response.status_code == 302
    [message] = _messages(alice, thread)
    assert (message.type, message.template_name, message.template_parameters) == (
        "template",
        "order_shipped",
        ["Dora", "A-17"],
    )
    assert message.text == "Hello Dora, your order A-17 has shipped."


def test_template_reply_refuses_a_draft_and_an_opted_out_contact(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice, contact__opted_out=True)
    with schema_context(alice.company.schema_name):
        draft = TemplateFactory(status="draft")
        approved = TemplateFactory()
    # when
    draft_response = alice_client.post(
        _url(thread, "reply-template/"), {"template": str(draft.public_id)}, headers={"HX-Request": "true"}
    )
    opted_out = alice_client.post(
        _url(thread, "reply-template/"), {"template": str(approved.public_id)}, headers={"HX-Request": "true"}
    )
    # then
    assert draft_response.status_code == 400
    assert opted_out.status_code == 400
    assert "opted out" in opted_out.content.decode()
    assert _messages(alice, thread) == []


def test_note_with_a_mention(alice: Persona, bob: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    # when
    response = alice_client.post(_url(thread, "notes/"), {"body": "@bob please call back"})
    # then
    assert response.status_code == 302
    with schema_context(alice.company.schema_name):
        note = Note.objects.get(thread=thread)
        assert list(note.mentions.all()) == [bob.user]
    assert note.author_id == alice.user.pk


def test_empty_note_is_refused(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    # when
    alice_client.post(_url(thread, "notes/"), {"body": "   "})
    # then
    with schema_context(alice.company.schema_name):
        assert not Note.objects.filter(thread=thread).exists()


def test_take_assign_and_unassign(alice: Persona, bob: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    # when / then
    alice_client.post(_url(thread, "assign/"), {"agent": "me"})
    assert _reload(alice, thread).assignee_id == alice.user.pk
    alice_client.post(_url(thread, "assign/"), {"agent": str(bob.user.public_id)})
    assert _reload(alice, thread).assignee_id == bob.user.pk
    alice_client.post(_url(thread, "assign/"), {"agent": ""})
    assert _reload(alice, thread).assignee_id is None


def test_assigning_an_unknown_agent_is_404(alice: Persona, charlie: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    # when
    response = alice_client.post(_url(thread, "assign/"), {"agent": str(charlie.user.public_id)})
    # then
    assert response.status_code == 404


def test_resolve_reopen_and_snooze(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    later = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    # when / then
    alice_client.post(_url(thread, "status/"), {"status": "resolved"})
    assert _reload(alice, thread).status == "resolved"
    alice_client.post(_url(thread, "status/"), {"status": "open"})
    assert _reload(alice, thread).status == "open"
    alice_client.post(_url(thread, "status/"), {"status": "snoozed", "snoozed_until": later})
    snoozed = _reload(alice, thread)
    assert snoozed.status == "snoozed"
    assert snoozed.snoozed_until is not None
    assert snoozed.snoozed_until.strftime("%Y-%m-%dT%H:%M") == later


def test_snooze_into_the_past_is_refused(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    earlier = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    # when
    response = alice_client.post(_url(thread, "status/"), {"status": "snoozed", "snoozed_until": earlier}, follow=True)
    # then
    assert _reload(alice, thread).status == "open"
    assert "Choose a time in the future." in response.content.decode()


def test_labels_are_replaced_and_new_ones_made(alice: Persona, alice_client: Client) -> None:
    # given
    thread = _thread(alice)
    alice_client.post(_url(thread, "labels/"), {"new_labels": "vip, refund"})
    # when
    alice_client.post(_url(thread, "labels/"), {"labels": ["vip"], "new_labels": "urgent"})
    # then
    with schema_context(alice.company.schema_name):
        assert sorted(label.name for label in thread.labels.all()) == ["urgent", "vip"]


@pytest.mark.parametrize("suffix", ["reply/", "reply-template/", "notes/", "assign/", "status/", "labels/"])
def test_charlie_gets_404_on_every_action(alice: Persona, charlie_client: Client, suffix: str) -> None:
    # given
    thread = _thread(alice, window_open=True)
    # when
    response = charlie_client.post(
        _url(thread, suffix), {"text": "x", "agent": "me", "status": "resolved", "body": "x"}
    )
    # then
    assert response.status_code == 404


@pytest.mark.parametrize("suffix", ["reply/", "reply-template/", "notes/", "assign/", "status/", "labels/", "typing/"])
def test_actions_need_the_csrf_token(alice: Persona, suffix: str) -> None:
    # given
    thread = _thread(alice, window_open=True)
    client = Client(HTTP_HOST=alice.host, enforce_csrf_checks=True)
    with schema_context(alice.company.schema_name):
        client.force_login(alice.user)
    # when
    response = client.post(_url(thread, suffix), {"text": "x", "agent": "me", "status": "resolved", "body": "x"})
    # then
    assert response.status_code == 403
    assert _messages(alice, thread) == []


def test_actions_require_login(alice: Persona, client_a: Client) -> None:
    # given
    thread = _thread(alice, window_open=True)
    # when
    response = client_a.post(_url(thread, "assign/"), {"agent": "me"})
    # then
    assert response.status_code == 302
    assert _reload(alice, thread).assignee_id is None
