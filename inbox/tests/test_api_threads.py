"""`/api/v1/threads/…`: threads, their messages and notes (design/API.md "Threads")."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from conftest import Persona
from inbox.api.threads import AGENT_UNKNOWN, ASSIGNEE_ME_WITH_KEY
from inbox.models import Note, Thread
from inbox.services import threads as thread_services
from inbox.tests.api_helpers import Call, get, patch_json, patch_with, post_json, post_with
from inbox.tests.factories import (
    ContactFactory,
    LabelFactory,
    LabelledThreadFactory,
    MessageFactory,
    ThreadFactory,
)
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]
AssertNumQueries = Callable[..., AbstractContextManager[None]]
THREAD_FIELDS = {
    "id",
    "contact",
    "phone_number",
    "status",
    "assignee",
    "labels",
    "unread",
    "last_message_at",
    "window_expires_at",
    "snoozed_until",
    "created_at",
    "csat_rating",  # satisfaction survey (docs/api.md)
    "csat_rated_at",
}
MESSAGE_FIELDS = {
    "id",
    "thread",
    "direction",
    "type",
    "text",
    "template",
    "media",
    "status",
    "error",
    "wamid",
    "sent_by",
    "created_at",
    "status_at",
    "send_at",  # send later (docs/api.md)
}


def _ids(response: object) -> list[str]:
    return [row["id"] for row in response.json()["results"]]  # type: ignore[attr-defined]


def _active(minutes_ago: int) -> dict[str, object]:
    return {"last_message_at": timezone.now() - timedelta(minutes=minutes_ago)}


# --- list -----------------------------------------------------------------------------------


def test_lists_threads_by_latest_activity(tenant_a: Company, api_a: Client) -> None:
    # given one quiet thread, one busy one, and one nobody wrote in (sorted by its creation)
    quiet = ThreadFactory(**_active(60))
    busy = ThreadFactory(**_active(1))
    fresh = ThreadFactory()
    # when
    response = api_a.get("/api/v1/threads/")
    # then
    assert response.status_code == 200
    assert _ids(response) == [str(fresh.public_id), str(busy.public_id), str(quiet.public_id)]
    assert set(response.json()["results"][0]) == THREAD_FIELDS


def test_filters_by_status(tenant_a: Company, api_a: Client) -> None:
    # given
    resolved = ThreadFactory(status=Thread.Status.RESOLVED)
    ThreadFactory(status=Thread.Status.OPEN)
    # when
    response = api_a.get("/api/v1/threads/", {"status": "resolved"})
    # then
    assert _ids(response) == [str(resolved.public_id)]


def test_refuses_an_unknown_status(tenant_a: Company, api_a: Client) -> None:
    # when
    response = api_a.get("/api/v1/threads/", {"status": "closed"})
    # then
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"status"}


def test_filters_unassigned_and_by_agent(tenant_a: Company, api_a: Client, bob: Persona, alice: Persona) -> None:
    # given
    to_bob = ThreadFactory(assignee=bob.user)
    ThreadFactory(assignee=alice.user)
    nobody = ThreadFactory(assignee=None)
    # when
    unassigned = api_a.get("/api/v1/threads/", {"assignee": "none"})
    bobs = api_a.get("/api/v1/threads/", {"assignee": str(bob.user.public_id)})
    # then
    assert _ids(unassigned) == [str(nobody.public_id)]
    assert _ids(bobs) == [str(to_bob.public_id)]
    assert bobs.json()["results"][0]["assignee"] == {"id": str(bob.user.public_id), "name": "Bob Agent"}


def test_assignee_me_is_invalid_with_an_api_key(tenant_a: Company, api_a: Client) -> None:
    # when
    response = api_a.get("/api/v1/threads/", {"assignee": "me"})
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"assignee": [ASSIGNEE_ME_WITH_KEY]}


def test_an_agent_of_another_company_is_an_unknown_assignee(tenant_a: Company, api_a: Client, charlie: Persona) -> None:
    # when alice's key filters by charlie's id
    response = api_a.get("/api/v1/threads/", {"assignee": str(charlie.user.public_id)})
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"assignee": [AGENT_UNKNOWN]}


def test_filters_by_label(tenant_a: Company, api_a: Client) -> None:
    # given
    urgent = LabelledThreadFactory(labels=[LabelFactory(name="urgent")])
    ThreadFactory()
    # when
    response = api_a.get("/api/v1/threads/", {"label": "urgent"})
    # then
    assert _ids(response) == [str(urgent.public_id)]
    assert response.json()["results"][0]["labels"] == ["urgent"]


@pytest.mark.parametrize("search", ["Dora", "+4915100000077", "refund please"])
def test_search_matches_name_phone_or_message_text(tenant_a: Company, api_a: Client, search: str) -> None:
    # given
    dora = ThreadFactory(contact=ContactFactory(name="Dora Explorer", phone="+4915100000077"))
    MessageFactory(thread=dora, text="I want a refund please")
    MessageFactory(thread=ThreadFactory(contact=ContactFactory(name="Other")), text="all good")
    # when
    response = api_a.get("/api/v1/threads/", {"search": search})
    # then
    assert _ids(response) == [str(dora.public_id)]


def test_pages_threads_by_cursor(tenant_a: Company, api_a: Client) -> None:
    # given
    made = [ThreadFactory(**_active(minutes)) for minutes in (3, 2, 1)]
    # when
    first = api_a.get("/api/v1/threads/", {"page_size": 2}).json()
    second = api_a.get(first["next"]).json()
    # then
    assert [t["id"] for t in first["results"]] == [str(made[2].public_id), str(made[1].public_id)]
    assert [t["id"] for t in second["results"]] == [str(made[0].public_id)]
    assert second["next"] is None


@pytest.mark.parametrize("page_size", [1, 20])
def test_list_query_count_does_not_grow_with_the_page(
    tenant_a: Company, api_a: Client, bob: Persona, django_assert_num_queries: AssertNumQueries, page_size: int
) -> None:
    # given 20 assigned, labelled threads
    label = LabelFactory(name="vip")
    for minutes in range(20):
        LabelledThreadFactory(assignee=bob.user, labels=[label], **_active(minutes))
    api_a.get("/api/v1/me")
    # when / then: domain, key, the page (with contact, number, assignee and label names in one
    # query as values rows); each after a SET
    with django_assert_num_queries(5):
        response = api_a.get("/api/v1/threads/", {"page_size": page_size})
    assert len(response.json()["results"]) == page_size


def test_charlie_sees_none_of_as_threads(tenant_a: Company, api_b: Client) -> None:
    # given
    ThreadFactory()
    # when
    response = api_b.get("/api/v1/threads/")
    # then
    assert response.status_code == 200
    assert response.json()["results"] == []


# --- one thread -----------------------------------------------------------------------------


def test_gets_one_thread_with_its_window(tenant_a: Company, api_a: Client) -> None:
    # given
    thread = ThreadFactory(window_open=True, contact=ContactFactory(name="Dora", phone="+4915100000077"))
    # when
    response = api_a.get(f"/api/v1/threads/{thread.public_id}/")
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["contact"] == {"id": str(thread.contact.public_id), "phone": "+4915100000077", "name": "Dora"}
    assert body["phone_number"]["id"] == str(thread.phone_number.public_id)
    assert body["window_expires_at"] is not None
    assert body["status"] == "open"


def test_unknown_thread_is_not_found(tenant_a: Company, api_a: Client) -> None:
    # when
    response = api_a.get(f"/api/v1/threads/{uuid.uuid4()}/")
    # then
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_patch_resolves_and_relabels(tenant_a: Company, api_a: Client, in_a: InA) -> None:
    # given
    thread = LabelledThreadFactory(labels=[LabelFactory(name="old")])
    # when
    response = patch_json(api_a, f"/api/v1/threads/{thread.public_id}/", {"status": "resolved", "labels": ["new"]})
    # then
    assert response.status_code == 200
    assert response.json()["status"] == "resolved"
    assert response.json()["labels"] == ["new"]
    with in_a():
        assert Thread.objects.get(pk=thread.pk).resolved_at is not None


def test_patch_snoozes_until_a_future_time(tenant_a: Company, api_a: Client) -> None:
    # given
    thread = ThreadFactory()
    until = (timezone.now() + timedelta(hours=3)).replace(microsecond=0)
    # when
    response = patch_json(
        api_a, f"/api/v1/threads/{thread.public_id}/", {"status": "snoozed", "snoozed_until": until.isoformat()}
    )
    # then
    assert response.status_code == 200
    assert response.json()["status"] == "snoozed"
    assert response.json()["snoozed_until"] == until.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"status": "snoozed"}, "snoozed_until", thread_services.SNOOZE_REQUIRED),
        (
            {"status": "snoozed", "snoozed_until": "2001-01-01T00:00:00Z"},
            "snoozed_until",
            thread_services.SNOOZE_IN_PAST,
        ),
        (
            {"status": "open", "snoozed_until": "2099-01-01T00:00:00Z"},
            "snoozed_until",
            thread_services.SNOOZE_ONLY_WHEN_SNOOZED,
        ),
    ],
)
def test_patch_refuses_a_bad_snooze_and_changes_nothing(
    tenant_a: Company, api_a: Client, in_a: InA, body: dict[str, str], field: str, message: str
) -> None:
    # given
    thread = ThreadFactory()
    # when
    response = patch_json(api_a, f"/api/v1/threads/{thread.public_id}/", {**body, "labels": ["x"]})
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {field: [message]}
    with in_a():
        assert Thread.objects.get(pk=thread.pk).status == "open"
        assert not Thread.objects.get(pk=thread.pk).labels.exists()


@pytest.mark.parametrize("call", [get, patch_with({"status": "resolved"})], ids=["get", "patch"])
def test_charlie_gets_404_for_as_thread(tenant_a: Company, api_b: Client, in_a: InA, call: Call) -> None:
    # given
    thread = ThreadFactory()
    # when
    response = call(api_b, f"/api/v1/threads/{thread.public_id}/")
    # then
    assert response.status_code == 404
    with in_a():
        assert Thread.objects.get(pk=thread.pk).status == "open"


# --- assign ---------------------------------------------------------------------------------


def test_assigns_to_an_agent_and_unassigns(tenant_a: Company, api_a: Client, bob: Persona) -> None:
    # given
    thread = ThreadFactory()
    path = f"/api/v1/threads/{thread.public_id}/assign/"
    # when
    assigned = post_json(api_a, path, {"agent": str(bob.user.public_id)})
    unassigned = post_json(api_a, path, {"agent": None})
    # then
    assert assigned.status_code == 200
    assert assigned.json()["assignee"] == {"id": str(bob.user.public_id), "name": "Bob Agent"}
    assert unassigned.status_code == 200
    assert unassigned.json()["assignee"] is None


@pytest.mark.parametrize("body", [{}, {"agent": "not-a-uuid"}])
def test_assign_needs_an_agent_field(tenant_a: Company, api_a: Client, body: dict[str, str]) -> None:
    # given
    thread = ThreadFactory()
    # when
    response = post_json(api_a, f"/api/v1/threads/{thread.public_id}/assign/", body)
    # then
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"agent"}


def test_assign_refuses_an_agent_of_another_company(
    tenant_a: Company, api_a: Client, charlie: Persona, in_a: InA
) -> None:
    # given
    thread = ThreadFactory()
    # when
    response = post_json(api_a, f"/api/v1/threads/{thread.public_id}/assign/", {"agent": str(charlie.user.public_id)})
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"agent": [AGENT_UNKNOWN]}
    with in_a():
        assert Thread.objects.get(pk=thread.pk).assignee is None


def test_charlie_gets_404_assigning_as_thread(tenant_a: Company, api_b: Client, charlie: Persona, in_a: InA) -> None:
    # given
    thread = ThreadFactory()
    # when
    response = post_json(api_b, f"/api/v1/threads/{thread.public_id}/assign/", {"agent": str(charlie.user.public_id)})
    # then
    assert response.status_code == 404
    with in_a():
        assert Thread.objects.get(pk=thread.pk).assignee is None


# --- messages of a thread -------------------------------------------------------------------


def test_lists_a_threads_messages_newest_first(tenant_a: Company, api_a: Client) -> None:
    # given
    thread = ThreadFactory()
    first = MessageFactory(thread=thread, text="first")
    second = MessageFactory(thread=thread, text="second")
    MessageFactory(text="another thread")
    # when
    response = api_a.get(f"/api/v1/threads/{thread.public_id}/messages/")
    # then
    assert response.status_code == 200
    assert _ids(response) == [str(second.public_id), str(first.public_id)]
    assert set(response.json()["results"][0]) == MESSAGE_FIELDS
    assert response.json()["results"][0]["thread"] == str(thread.public_id)


@pytest.mark.parametrize("page_size", [1, 20])
def test_messages_query_count_does_not_grow_with_the_page(
    tenant_a: Company, api_a: Client, django_assert_num_queries: AssertNumQueries, page_size: int
) -> None:
    # given
    thread = ThreadFactory()
    for _ in range(20):
        MessageFactory(thread=thread)
    api_a.get("/api/v1/me")
    # when / then: domain, key, the thread's id, the page (values rows), plus one SET search_path
    # per schema switch
    with django_assert_num_queries(6):
        response = api_a.get(f"/api/v1/threads/{thread.public_id}/messages/", {"page_size": page_size})
    assert len(response.json()["results"]) == page_size


def test_charlie_gets_404_for_as_thread_messages(tenant_a: Company, api_b: Client) -> None:
    # given
    thread = ThreadFactory()
    MessageFactory(thread=thread)
    # when
    response = api_b.get(f"/api/v1/threads/{thread.public_id}/messages/")
    # then
    assert response.status_code == 404


# --- notes ----------------------------------------------------------------------------------


def test_adds_a_note_without_author_and_with_mentions(tenant_a: Company, api_a: Client, bob: Persona) -> None:
    # given
    thread = ThreadFactory()
    # when
    response = post_json(api_a, f"/api/v1/threads/{thread.public_id}/notes/", {"body": "@bob please call back"})
    # then
    assert response.status_code == 201
    body = response.json()
    assert body["author"] is None
    assert body["body"] == "@bob please call back"
    assert body["thread"] == str(thread.public_id)
    assert body["mentions"] == [{"id": str(bob.user.public_id), "name": "Bob Agent"}]


def test_refuses_a_blank_note(tenant_a: Company, api_a: Client) -> None:
    # given
    thread = ThreadFactory()
    # when
    response = post_json(api_a, f"/api/v1/threads/{thread.public_id}/notes/", {"body": "   "})
    # then
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"body"}


def test_lists_notes_newest_first(tenant_a: Company, api_a: Client, alice: Persona) -> None:
    # given
    thread = ThreadFactory()
    older = thread_services.note_create(thread=thread, author=alice.user, body="older")
    newer = thread_services.note_create(thread=thread, author=alice.user, body="newer")
    # when
    response = api_a.get(f"/api/v1/threads/{thread.public_id}/notes/")
    # then
    assert response.status_code == 200
    assert _ids(response) == [str(newer.public_id), str(older.public_id)]
    assert response.json()["results"][0]["author"] == {"id": str(alice.user.public_id), "name": "Alice Owner"}


@pytest.mark.parametrize("page_size", [1, 20])
def test_notes_query_count_does_not_grow_with_the_page(
    tenant_a: Company, api_a: Client, alice: Persona, django_assert_num_queries: AssertNumQueries, page_size: int
) -> None:
    # given
    thread = ThreadFactory()
    for n in range(20):
        thread_services.note_create(thread=thread, author=alice.user, body=f"note {n} @bob")
    api_a.get("/api/v1/me")
    # when / then: domain, key, thread, its labels, the page, mentions, plus one SET search_path per schema switch
    with django_assert_num_queries(8):
        response = api_a.get(f"/api/v1/threads/{thread.public_id}/notes/", {"page_size": page_size})
    assert len(response.json()["results"]) == page_size


@pytest.mark.parametrize("call", [get, post_with({"body": "hi"})], ids=["get", "post"])
def test_charlie_gets_404_for_as_notes(tenant_a: Company, api_b: Client, in_a: InA, call: Call) -> None:
    # given
    thread = ThreadFactory()
    # when
    response = call(api_b, f"/api/v1/threads/{thread.public_id}/notes/")
    # then
    assert response.status_code == 404
    with in_a():
        assert not Note.objects.filter(thread=thread).exists()
