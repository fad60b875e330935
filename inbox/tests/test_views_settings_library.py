"""Settings → Labels and Settings → Canned replies (/settings/labels/, /settings/canned-replies/)."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from conftest import Persona
from inbox.models import CannedReply, Label
from inbox.services import library
from inbox.tests.factories import CannedReplyFactory, LabelFactory, LabelledThreadFactory

LABELS = "/settings/labels/"
REPLIES = "/settings/canned-replies/"


def _label(persona: Persona, **kwargs: object) -> Label:
    with schema_context(persona.company.schema_name):
        return LabelFactory(**kwargs)


def _reply(persona: Persona, **kwargs: object) -> CannedReply:
    with schema_context(persona.company.schema_name):
        return CannedReplyFactory(**kwargs)


# --- labels -----------------------------------------------------------------------------------


def test_owner_sees_labels_with_their_use(alice: Persona, alice_client: Client) -> None:
    # given
    label = _label(alice, name="VIP", color="#ff0000")
    with schema_context(alice.company.schema_name):
        LabelledThreadFactory(labels=[label])
    # when
    response = alice_client.get(LABELS)
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert '<span class="label-chip">VIP</span>' in html
    assert 'aria-current="page">Labels</a>' in html
    assert '<td data-label="Threads">1</td>' in html


def test_owner_adds_a_label(alice: Persona, alice_client: Client) -> None:
    # when
    response = alice_client.post(LABELS, {"name": "Refund", "color": "#00aa00"}, follow=True)
    # then
    assert response.status_code == 200
    assert "Label “Refund” added." in response.content.decode()
    with schema_context(alice.company.schema_name):
        assert Label.objects.get(name="Refund").color == "#00aa00"


def test_a_duplicate_name_and_a_bad_color_are_explained(alice: Persona, alice_client: Client) -> None:
    # given
    _label(alice, name="VIP")
    # when
    response = alice_client.post(LABELS, {"name": "vip", "color": "blue"})
    # then
    html = response.content.decode()
    assert response.status_code == 400
    assert "There is a label “vip” already." in html
    assert "Choose a color as #rrggbb" in html


def test_owner_renames_and_recolors_a_label(alice: Persona, alice_client: Client) -> None:
    # given
    label = _label(alice, name="urgnet")
    # when
    response = alice_client.post(f"{LABELS}{label.public_id}/", {"name": "urgent", "color": "#123456"})
    # then
    assert response.status_code == 302
    with schema_context(alice.company.schema_name):
        label.refresh_from_db()
    assert (label.name, label.color) == ("urgent", "#123456")


def test_a_refused_rename_shows_the_error_on_its_row(alice: Persona, alice_client: Client) -> None:
    # given
    _label(alice, name="VIP")
    label = _label(alice, name="other")
    # when
    response = alice_client.post(f"{LABELS}{label.public_id}/", {"name": "VIP", "color": "#123456"})
    # then
    html = response.content.decode()
    assert response.status_code == 400
    assert f'<ul id="label-errors-{label.public_id}" class="errorlist" role="alert"><li>There is a label' in html


def test_owner_deletes_a_label(alice: Persona, alice_client: Client) -> None:
    # given
    label = _label(alice, name="old")
    # when
    response = alice_client.post(f"{LABELS}{label.public_id}/delete/", follow=True)
    # then
    assert "Label “old” deleted; it was on 0 thread(s)." in response.content.decode()
    with schema_context(alice.company.schema_name):
        assert not Label.objects.filter(pk=label.pk).exists()


def test_agent_may_not_see_or_change_labels(alice: Persona, bob_client: Client) -> None:
    # given
    label = _label(alice, name="VIP")
    # when
    responses = [
        bob_client.get(LABELS),
        bob_client.post(LABELS, {"name": "new", "color": "#000000"}),
        bob_client.post(f"{LABELS}{label.public_id}/", {"name": "x", "color": "#000000"}),
        bob_client.post(f"{LABELS}{label.public_id}/delete/"),
    ]
    # then
    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert "Only owners and admins" in responses[1].content.decode()
    with schema_context(alice.company.schema_name):
        assert list(Label.objects.values_list("name", flat=True)) == ["VIP"]


def test_charlie_gets_404_for_a_label_of_company_a(alice: Persona, charlie_client: Client) -> None:
    # given
    label = _label(alice, name="VIP")
    # when
    responses = [
        charlie_client.post(f"{LABELS}{label.public_id}/", {"name": "mine", "color": "#000000"}),
        charlie_client.post(f"{LABELS}{label.public_id}/delete/"),
    ]
    # then
    assert [r.status_code for r in responses] == [404, 404]
    assert "VIP" not in charlie_client.get(LABELS).content.decode()


def test_label_page_queries_do_not_grow_with_rows(alice: Persona, alice_client: Client) -> None:
    # given
    with schema_context(alice.company.schema_name):
        for i in range(3):
            LabelledThreadFactory(labels=[LabelFactory(name=f"few-{i}")])
    with CaptureQueriesContext(connection) as few:
        alice_client.get(LABELS)
    with schema_context(alice.company.schema_name):
        for i in range(20):
            LabelledThreadFactory(labels=[LabelFactory(name=f"many-{i}")])
    # when
    with CaptureQueriesContext(connection) as many:
        alice_client.get(LABELS)
    # then
    assert len(many.captured_queries) == len(few.captured_queries)


# --- canned replies ---------------------------------------------------------------------------


def test_owner_adds_edits_and_deletes_a_canned_reply(alice: Persona, alice_client: Client) -> None:
    # when
    added = alice_client.post(f"{REPLIES}new/", {"shortcut": "hours", "title": "Hours", "body": "9 to 5"}, follow=True)
    with schema_context(alice.company.schema_name):
        reply = CannedReply.objects.get(shortcut="hours")
    edited = alice_client.post(
        f"{REPLIES}{reply.public_id}/", {"shortcut": "opening-hours", "title": "Opening hours", "body": "9 to 17"}
    )
    with schema_context(alice.company.schema_name):
        reply.refresh_from_db()
    deleted = alice_client.post(f"{REPLIES}{reply.public_id}/delete/", follow=True)
    # then
    assert "Canned reply /hours added." in added.content.decode()
    assert edited.status_code == 302
    assert (reply.shortcut, reply.title, reply.body) == ("opening-hours", "Opening hours", "9 to 17")
    assert "Canned reply /opening-hours deleted." in deleted.content.decode()
    with schema_context(alice.company.schema_name):
        assert not CannedReply.objects.exists()


def test_a_bad_or_taken_shortcut_is_explained(alice: Persona, alice_client: Client) -> None:
    # given
    taken = _reply(alice, shortcut="thanks")
    other = _reply(alice, shortcut="bye")
    # when
    malformed = alice_client.post(f"{REPLIES}new/", {"shortcut": "two words", "title": "T", "body": "B"})
    duplicate = alice_client.post(f"{REPLIES}{other.public_id}/", {"shortcut": "Thanks", "title": "T", "body": "B"})
    # then
    assert malformed.status_code == 400
    assert str(library.SHORTCUT_INVALID) in malformed.content.decode()
    assert duplicate.status_code == 400
    assert f"Shortcut: The shortcut /{taken.shortcut} is taken already." in duplicate.content.decode()


def test_agent_reads_canned_replies_but_may_not_change_them(alice: Persona, bob_client: Client) -> None:
    # given
    reply = _reply(alice, shortcut="thanks", body="<b>Thanks</b> a lot")
    # when
    page = bob_client.get(REPLIES)
    refused = [
        bob_client.post(f"{REPLIES}new/", {"shortcut": "x", "title": "x", "body": "x"}),
        bob_client.post(f"{REPLIES}{reply.public_id}/", {"shortcut": "x", "title": "x", "body": "x"}),
        bob_client.post(f"{REPLIES}{reply.public_id}/delete/"),
    ]
    # then
    html = page.content.decode()
    assert page.status_code == 200
    assert "<code>/thanks</code>" in html
    assert "&lt;b&gt;Thanks&lt;/b&gt; a lot" in html
    assert "Add a canned reply" not in html
    assert 'aria-label="Settings"' not in html
    assert [r.status_code for r in refused] == [403, 403, 403]
    with schema_context(alice.company.schema_name):
        assert CannedReply.objects.get().shortcut == "thanks"


def test_charlie_gets_404_for_a_canned_reply_of_company_a(alice: Persona, charlie_client: Client) -> None:
    # given
    reply = _reply(alice, shortcut="thanks")
    # when
    responses = [
        charlie_client.post(f"{REPLIES}{reply.public_id}/", {"shortcut": "x", "title": "x", "body": "x"}),
        charlie_client.post(f"{REPLIES}{reply.public_id}/delete/"),
    ]
    # then
    assert [r.status_code for r in responses] == [404, 404]
    assert "/thanks" not in charlie_client.get(REPLIES).content.decode()


def test_settings_pages_require_login(client_a: Client) -> None:
    # when
    responses = [client_a.get(LABELS), client_a.get(REPLIES)]
    # then
    assert [r.status_code for r in responses] == [302, 302]
