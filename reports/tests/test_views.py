"""Report pages: who sees what, grouping, CSV, escaping, and that only rollups are read."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django_tenants.utils import schema_context

from accounts.models import User
from conftest import Persona
from inbox.models import Broadcast, Thread
from inbox.services.threads import thread_assign, thread_labels_set, thread_record_inbound, thread_status_set
from inbox.tests.factories import MessageFactory, OutboundMessageFactory, ThreadFactory
from inbox.tests.factories_broadcasts import BroadcastFactory
from reports.services import reports_rollup

Clock = Callable[[datetime], AbstractContextManager[None]]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RANGE = "start=2026-03-01&end=2026-03-05"
EVIL_LABEL = "<b>vip</b>"
FORMULA_LABEL = "=HYPERLINK(1)"


def conversation(clock: Clock, *, assignee: Persona, labels: list[str], answer_after: timedelta) -> Thread:
    with clock(T0):
        thread = ThreadFactory()
        # The stored user: the session's shared object may carry another test's edits.
        thread_assign(thread=thread, assignee=User.objects.get(pk=assignee.user.pk))
        thread_labels_set(thread=thread, labels=labels)
        message = MessageFactory(thread=thread)
        thread_record_inbound(thread=thread, message=message)
    with clock(T0 + answer_after):
        OutboundMessageFactory(thread=thread, sent_by=assignee.user, accepted=True)
    with clock(T0 + answer_after * 2):
        thread.refresh_from_db()
        thread_status_set(thread=thread, status=Thread.Status.RESOLVED)
    return thread


@pytest.fixture
def acme_numbers(alice: Persona, bob: Persona, clock: Clock) -> None:
    """Acme on March 2nd: bob answered after 10 min (labels vip, formula), alice after 1 h."""
    with schema_context(alice.company.schema_name):
        conversation(clock, assignee=bob, labels=[EVIL_LABEL, FORMULA_LABEL], answer_after=timedelta(minutes=10))
        conversation(clock, assignee=alice, labels=[], answer_after=timedelta(hours=1))
        with clock(T0):
            BroadcastFactory(name="<i>Spring</i> sale", status=Broadcast.Status.RUNNING, started_at=T0)
        reports_rollup(now=T0 + timedelta(days=1))


def rows_of(response: object) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))  # type: ignore[attr-defined]


def test_owner_sees_the_company_by_day(acme_numbers: None, alice_client: Client) -> None:
    # when
    response = alice_client.get(f"/reports/?{RANGE}")
    # then
    assert response.status_code == 200
    report = response.context["report"]
    assert [(r.label, r.opened, r.resolved) for r in report.rows if r.opened] == [("2026-03-02", 2, 2)]
    assert report.total.first_response_avg == pytest.approx((600 + 3600) / 2)
    assert b"<svg" in response.content


def test_owner_groups_by_agent(acme_numbers: None, alice_client: Client) -> None:
    # when
    response = alice_client.get(f"/reports/?{RANGE}&group=agent")
    # then
    rows = {r.label: r.first_response_avg for r in response.context["report"].rows}
    assert rows == {"Bob Agent": 600.0, "Alice Owner": 3600.0}


def test_label_names_are_escaped(acme_numbers: None, alice_client: Client) -> None:
    # when
    response = alice_client.get(f"/reports/?{RANGE}&group=label")
    # then
    labels = {r.label: r.opened for r in response.context["report"].rows}
    assert labels == {EVIL_LABEL: 1, FORMULA_LABEL: 1, "No label": 1}
    assert b"&lt;b&gt;vip&lt;/b&gt;" in response.content
    assert EVIL_LABEL.encode() not in response.content


def test_csv_exports_what_is_shown(acme_numbers: None, alice_client: Client) -> None:
    # when
    response = alice_client.get(f"/reports/?{RANGE}&group=label&format=csv")
    # then
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = rows_of(response)
    assert rows[0][:3] == ["Label", "Conversations opened", "Conversations resolved"]
    by_label = {r[0]: r[1:] for r in rows[1:]}
    assert by_label["'" + FORMULA_LABEL][:4] == ["1", "1", "1", "600.0"]
    assert by_label[EVIL_LABEL][0] == "1"
    assert by_label["Total"][:3] == ["2", "2", "2"]


def test_csv_by_day_has_every_day_of_the_range(acme_numbers: None, alice_client: Client) -> None:
    # when
    rows = rows_of(alice_client.get(f"/reports/?{RANGE}&format=csv"))
    # then
    assert [r[0] for r in rows[1:]] == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "Total"]
    assert rows[2][1:4] == ["2", "2", "2"]


def test_agent_sees_only_their_own_numbers(acme_numbers: None, bob_client: Client) -> None:
    # when: asking for everyone by agent
    response = bob_client.get(f"/reports/?{RANGE}&group=agent")
    # then: bob's own conversations by day
    report = response.context["report"]
    assert response.status_code == 200
    assert report.group == "day"
    assert (report.total.opened, report.total.first_response_avg) == (1, 600.0)
    assert b"Alice Owner" not in response.content


def test_agent_csv_is_their_own_too(acme_numbers: None, bob_client: Client) -> None:
    # when
    rows = rows_of(bob_client.get(f"/reports/?{RANGE}&format=csv"))
    # then
    assert rows[-1][:2] == ["Total", "1"]


def test_bad_ranges_are_refused_readably(alice_client: Client) -> None:
    # when
    backwards = alice_client.get("/reports/?start=2026-03-05&end=2026-03-01")
    too_long = alice_client.get("/reports/?start=2020-01-01&end=2026-03-01")
    not_a_date = alice_client.get("/reports/?start=March")
    # then
    assert backwards.status_code == too_long.status_code == not_a_date.status_code == 400
    assert b"The start date must not be after the end date." in backwards.content
    assert b"Choose at most 731 days." in too_long.content
    assert b"Enter a valid date." in not_a_date.content


def test_default_range_is_the_last_30_days(alice_client: Client) -> None:
    # when
    response = alice_client.get("/reports/")
    # then
    report = response.context["report"]
    assert response.status_code == 200
    assert (report.end - report.start).days == 29


def test_a_year_reads_only_rollups_in_few_queries(acme_numbers: None, alice_client: Client) -> None:
    # when
    with CaptureQueriesContext(connection) as ctx:
        response = alice_client.get("/reports/?start=2025-03-03&end=2026-03-02&group=agent")
    # then
    assert response.status_code == 200
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not [q for q in sql if "inbox_message" in q or "inbox_thread" in q]
    assert len([q for q in sql if not q.startswith("SET search_path")]) <= 8


def test_anonymous_is_sent_to_log_in(client_a: Client) -> None:
    # when
    response = client_a.get("/reports/")
    # then
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_another_companys_session_is_not_valid_here(acme_numbers: None, alice: Persona, charlie_client: Client) -> None:
    # given: charlie's session cookie, sent to acme's host
    intruder = Client(HTTP_HOST=alice.host)
    intruder.cookies = charlie_client.cookies
    # when
    response = intruder.get(f"/reports/?{RANGE}")
    # then
    assert response.status_code == 302


def test_each_company_sees_only_its_numbers(acme_numbers: None, charlie_client: Client) -> None:
    # when
    response = charlie_client.get(f"/reports/?{RANGE}")
    funnel = charlie_client.get("/reports/broadcasts/")
    # then
    assert response.context["report"].total.opened == 0
    assert b"Spring" not in funnel.content


def test_funnel_page_lists_broadcasts_escaped(acme_numbers: None, alice_client: Client) -> None:
    # when
    response = alice_client.get("/reports/broadcasts/")
    # then
    assert response.status_code == 200
    assert b"&lt;i&gt;Spring&lt;/i&gt; sale" in response.content
    assert b"<i>Spring</i>" not in response.content


def test_funnel_csv(acme_numbers: None, alice_client: Client) -> None:
    # when
    response = alice_client.get("/reports/broadcasts/?format=csv")
    # then
    rows = rows_of(response)
    assert rows[0][:6] == ["Broadcast", "Started", "Sent", "Delivered", "Read", "Replied"]
    assert rows[1][0] == "<i>Spring</i> sale"
    assert rows[1][2:7] == ["0", "0", "0", "0", "0"]


def test_funnel_is_for_managers(bob_client: Client) -> None:
    # when
    response = bob_client.get("/reports/broadcasts/")
    # then
    assert response.status_code == 403


def test_funnel_links_do_not_open_across_companies(acme_numbers: None, alice: Persona, charlie_client: Client) -> None:
    # given
    with schema_context(alice.company.schema_name):
        public_id = Broadcast.objects.get().public_id
    # when
    response = charlie_client.get(f"/broadcasts/{public_id}/")
    # then
    assert response.status_code == 404


def test_german_page_is_translated_and_the_chart_keeps_dot_decimals(acme_numbers: None, alice_client: Client) -> None:
    # when
    with translation.override("en"):  # the request switches this thread to German; put it back after
        response = alice_client.get(f"/reports/?{RANGE}", HTTP_ACCEPT_LANGUAGE="de")
    # then
    content = response.content.decode()
    assert "Eröffnete Unterhaltungen" in content
    assert "CSV herunterladen" in content
    svg = content[content.index("<svg") : content.index("</svg>")]
    coordinates = re.findall(r'\b(?:x|y|width|height)="([^"]*)"', svg)
    assert any("." in c for c in coordinates)
    assert [c for c in coordinates if "," in c] == []  # not German decimals: "1,5" breaks SVG
