"""Satisfaction survey (CSAT): asked on resolve inside the window only, once per resolve;
the customer's list reply stored for that resolution (inbox/services/csat.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import Persona
from inbox import tasks
from inbox.models import CsatResponse, CsatSurvey, Label, Message, PhoneNumber, Thread
from inbox.providers.base import message_body
from inbox.services import threads
from inbox.tests.api_helpers import patch_json
from inbox.tests.factories import ThreadFactory
from inbox.tests.webhook_payloads import (
    CUSTOMER,
    DISPLAY_A,
    NUMBER_A,
    connect,
    envelope_build,
    message_item,
    post_and_process,
)
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


@pytest.fixture
def csat_on(company_a: Company) -> Company:
    Company.objects.filter(pk=company_a.pk).update(csat_enabled=True)
    company_a.csat_enabled = True
    return company_a


@pytest.fixture
def customer_thread(company_a: Company, number_a: PhoneNumber) -> Thread:
    """The CUSTOMER's thread on number A, window open, labelled "delivery"."""
    with schema_context(company_a.schema_name):
        thread = ThreadFactory(phone_number=number_a, window_open=True, contact__phone=CUSTOMER)
        thread.labels.set([Label.objects.create(name="delivery")])
    return thread


def _resolve(thread: Thread, agent: Any) -> Thread:
    return threads.thread_status_set(thread=thread, status=Thread.Status.RESOLVED, by=agent)


def _answer(client: Client, row_id: str, *, kind: str = "list_reply") -> None:
    reply = {"type": kind, kind: {"id": row_id, "title": "A rating"}}
    post_and_process(client, envelope_build(phone_number_id=NUMBER_A, messages=[message_item("interactive", reply)]))


def _row_ids(survey: CsatSurvey) -> list[str]:
    rows = survey.message.payload["interactive"]["action"]["sections"][0]["rows"]  # type: ignore[union-attr]
    return [row["id"] for row in rows]


# --- asking -------------------------------------------------------------------------------------


def test_off_by_default_nothing_is_asked(alice: Persona, company_a: Company, customer_thread: Thread) -> None:
    with schema_context(company_a.schema_name):
        # when
        _resolve(customer_thread, alice.user)
        # then
        assert not CsatSurvey.objects.exists()
        assert not Message.objects.filter(thread=customer_thread).exists()


def test_resolve_inside_the_window_sends_a_five_row_list_once(
    alice: Persona, csat_on: Company, customer_thread: Thread, django_capture_on_commit_callbacks: Any
) -> None:
    with schema_context(csat_on.schema_name):
        # when resolved, then "resolved" again (no new resolve)
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            _resolve(customer_thread, alice.user)
            _resolve(customer_thread, alice.user)
        # then one survey, one queued interactive message, one delivery enqueued
        survey = CsatSurvey.objects.get()
        message = survey.message
        assert survey.agent == alice.user
        assert [label.name for label in survey.labels.all()] == ["delivery"]
        assert message is not None
        assert (message.type, message.status, message.direction) == ("interactive", "queued", "outbound")
        assert len(callbacks) == 1
        interactive = message.payload["interactive"]
        assert interactive["type"] == "list"
        rows = interactive["action"]["sections"][0]["rows"]
        assert sorted(row["id"].rsplit(":", 1)[1] for row in rows) == ["1", "2", "3", "4", "5"]
        assert all(len(row["title"]) <= 24 for row in rows)
        assert len(interactive["action"]["button"]) <= 20
        # and the provider is sent the list as an interactive message
        body = message_body(message)
        assert body["type"] == "interactive"
        assert body["interactive"] == interactive


def test_delivered_through_the_sandbox(alice: Persona, csat_on: Company, customer_thread: Thread) -> None:
    with schema_context(csat_on.schema_name):
        # given
        _resolve(customer_thread, alice.user)
        message = CsatSurvey.objects.get().message
        assert message is not None
        # when
        tasks.message_deliver_task.run(*json.loads(json.dumps([message.pk])))
        # then
        message.refresh_from_db()
        assert message.status == Message.Status.SENT


def test_never_asked_outside_the_window(alice: Persona, csat_on: Company, number_a: PhoneNumber) -> None:
    with schema_context(csat_on.schema_name):
        # given a customer who last wrote 25 hours ago, and one who never wrote
        old = ThreadFactory(phone_number=number_a, last_inbound_at=timezone.now() - timedelta(hours=25))
        silent = ThreadFactory(phone_number=number_a)
        # when
        _resolve(old, alice.user)
        _resolve(silent, alice.user)
        # then
        assert not CsatSurvey.objects.exists()
        assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_each_resolve_asks_once(alice: Persona, csat_on: Company, customer_thread: Thread) -> None:
    with schema_context(csat_on.schema_name):
        # when resolved, reopened, resolved again
        _resolve(customer_thread, alice.user)
        threads.thread_status_set(thread=customer_thread, status=Thread.Status.OPEN)
        _resolve(customer_thread, None)
        # then two surveys; the API/unknown resolver falls back to the assignee (none here)
        assert CsatSurvey.objects.count() == 2
        assert Message.objects.filter(type=Message.Type.INTERACTIVE).count() == 2


# --- answers ------------------------------------------------------------------------------------


def test_a_rating_is_stored_for_the_agent_and_labels_and_the_thread_stays_resolved(
    alice: Persona, public_client: Client, csat_on: Company, customer_thread: Thread
) -> None:
    # given
    with schema_context(csat_on.schema_name):
        _resolve(customer_thread, alice.user)
        survey = CsatSurvey.objects.get()
        four = next(row for row in _row_ids(survey) if row.endswith(":4"))
    # when
    _answer(public_client, four)
    # then
    with schema_context(csat_on.schema_name):
        response = CsatResponse.objects.get()
        assert (response.rating, response.agent, response.survey) == (4, alice.user, survey)
        assert [label.name for label in response.labels.all()] == ["delivery"]
        thread = Thread.objects.get(pk=customer_thread.pk)
        assert (thread.csat_rating, thread.status) == (4, Thread.Status.RESOLVED)
        assert thread.csat_rated_at is not None
        assert thread.resolved_at == survey.resolved_at
        assert thread.unread_count == 0
        # and the customer's reply itself is kept in the conversation
        assert Message.objects.filter(direction="inbound", type="interactive").count() == 1


def test_a_rating_after_the_thread_was_reopened_still_counts_for_that_resolve(
    alice: Persona, bob: Persona, public_client: Client, csat_on: Company, customer_thread: Thread
) -> None:
    # given resolved by alice, then reopened by bob
    with schema_context(csat_on.schema_name):
        _resolve(customer_thread, alice.user)
        survey = CsatSurvey.objects.get()
        threads.thread_status_set(thread=customer_thread, status=Thread.Status.OPEN, by=bob.user)
        five = next(row for row in _row_ids(survey) if row.endswith(":5"))
    # when
    _answer(public_client, five)
    # then
    with schema_context(csat_on.schema_name):
        response = CsatResponse.objects.get()
        assert (response.rating, response.agent) == (5, alice.user)
        thread = Thread.objects.get(pk=customer_thread.pk)
        assert (thread.csat_rating, thread.status) == (5, Thread.Status.OPEN)


@pytest.mark.parametrize(
    "make_id",
    [
        lambda survey: f"csat:{survey.public_id}:7",
        lambda survey: f"csat:{survey.public_id}:0",
        lambda survey: "csat:00000000-0000-0000-0000-000000000000:3",
        lambda survey: "order:123",
        lambda survey: f"csat:{survey.public_id}:3:extra",
    ],
    ids=["seven", "zero", "unknown-survey", "other-id", "malformed"],
)
def test_other_or_out_of_range_replies_are_ignored(
    alice: Persona, public_client: Client, csat_on: Company, customer_thread: Thread, make_id: Callable[..., str]
) -> None:
    # given
    with schema_context(csat_on.schema_name):
        _resolve(customer_thread, alice.user)
        survey = CsatSurvey.objects.get()
    # when
    _answer(public_client, make_id(survey))
    # then
    with schema_context(csat_on.schema_name):
        assert not CsatResponse.objects.exists()
        assert Thread.objects.get(pk=customer_thread.pk).csat_rating is None


def test_only_the_first_answer_counts_and_a_survey_of_another_thread_is_ignored(
    alice: Persona, public_client: Client, csat_on: Company, customer_thread: Thread, number_a: PhoneNumber
) -> None:
    # given a survey in another customer's thread
    with schema_context(csat_on.schema_name):
        _resolve(customer_thread, alice.user)
        mine = CsatSurvey.objects.get(thread=customer_thread)
        other = ThreadFactory(phone_number=number_a, window_open=True)
        _resolve(other, alice.user)
        theirs = CsatSurvey.objects.get(thread=other)
    # when the customer answers twice, and also with the other thread's row id
    _answer(public_client, f"csat:{theirs.public_id}:1")
    _answer(public_client, f"csat:{mine.public_id}:2")
    _answer(public_client, f"csat:{mine.public_id}:5", kind="button_reply")
    # then
    with schema_context(csat_on.schema_name):
        assert list(CsatResponse.objects.values_list("survey_id", "rating")) == [(mine.pk, 2)]
        assert Thread.objects.get(pk=customer_thread.pk).csat_rating == 2


# --- shown to agents, settings ------------------------------------------------------------------


def test_agents_see_the_rating_in_the_thread_list_thread_and_api(
    alice: Persona,
    alice_client: Client,
    api_a: Client,
    public_client: Client,
    csat_on: Company,
    customer_thread: Thread,
) -> None:
    # given
    with schema_context(csat_on.schema_name):
        _resolve(customer_thread, alice.user)
        survey = CsatSurvey.objects.get()
    _answer(public_client, f"csat:{survey.public_id}:3")
    # when
    listing = alice_client.get("/inbox/?status=resolved").content.decode()
    detail = alice_client.get(f"/inbox/threads/{customer_thread.public_id}/").content.decode()
    api = api_a.get(f"/api/v1/threads/{customer_thread.public_id}/").json()
    # then
    assert "★ 3/5" in listing
    assert "★ 3/5" in detail
    assert 'data-csat-rating="3"' in detail
    assert api["csat_rating"] == 3
    assert api["csat_rated_at"]


def test_api_reads_and_changes_the_setting_per_company(
    api_a: Client, api_b: Client, company_a: Company, company_b: Company
) -> None:
    # when
    before = api_a.get("/api/v1/settings/csat/")
    changed = patch_json(api_a, "/api/v1/settings/csat/", {"csat_enabled": True})
    bad = patch_json(api_a, "/api/v1/settings/csat/", {"csat_enabled": "maybe"})
    # then
    assert before.status_code == 200
    assert before.json() == {"csat_enabled": False}
    assert changed.status_code == 200
    assert changed.json() == {"csat_enabled": True}
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid"
    assert Company.objects.get(pk=company_a.pk).csat_enabled is True
    assert Company.objects.get(pk=company_b.pk).csat_enabled is False
    assert api_b.get("/api/v1/settings/csat/").json() == {"csat_enabled": False}


def test_settings_page_turns_it_on_for_managers_only(
    alice_client: Client, bob_client: Client, company_a: Company
) -> None:
    # when
    page = alice_client.get("/settings/satisfaction/")
    saved = alice_client.post("/settings/satisfaction/", {"csat_enabled": "on"})
    agent = bob_client.post("/settings/satisfaction/", {})
    # then
    assert page.status_code == 200
    assert 'name="csat_enabled"' in page.content.decode()
    assert saved.status_code == 302
    assert agent.status_code == 403
    assert Company.objects.get(pk=company_a.pk).csat_enabled is True
    # and off again
    alice_client.post("/settings/satisfaction/", {})
    assert Company.objects.get(pk=company_a.pk).csat_enabled is False
