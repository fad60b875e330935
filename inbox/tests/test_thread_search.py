from __future__ import annotations

import pytest

from inbox import selectors
from inbox.models import Thread
from inbox.tests.factories import ContactFactory, MessageFactory, ThreadFactory
from tenants.models import Company


@pytest.fixture(autouse=True, params=["rare", "common"])
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every search test runs under both plans: matches collected through the trigram
    indexes (a rare term), and threads walked in order testing each (a common term)."""
    monkeypatch.setattr(selectors, "COMMON_TERM_ROWS", 10**12 if request.param == "rare" else -1)
    return str(request.param)


@pytest.fixture
def threads(tenant_a: Company) -> dict[str, Thread]:
    flight = ThreadFactory(contact=ContactFactory(name="Claire Martin", phone="+4915798765432"))
    MessageFactory(thread=flight, text="Is flight KA123 to Lisbon on time?")
    parcel = ThreadFactory(contact=ContactFactory(name="Diego", profile_name="Diego R.", phone="+34612345678"))
    MessageFactory(thread=parcel, text="Where is my parcel 100% lost_in_transit")
    return {"flight": flight, "parcel": parcel}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("ka123", ["flight"]),  # message text, any case
        ("claire", ["flight"]),  # contact name
        ("diego r.", ["parcel"]),  # WhatsApp profile name
        ("612345", ["parcel"]),  # phone
        ("100%", ["parcel"]),  # % is literal, not a wildcard
        ("lost_in", ["parcel"]),  # _ is literal
        ("%", ["parcel"]),
        ("nothing like this", []),
    ],
)
def test_finds_threads_by_message_text_contact_name_or_phone(
    threads: dict[str, Thread], term: str, expected: list[str]
) -> None:
    # when
    found = set(selectors.thread_list(search=term).values_list("pk", flat=True))
    # then
    assert found == {threads[name].pk for name in expected}


def test_search_combines_with_other_filters(threads: dict[str, Thread]) -> None:
    Thread.objects.filter(pk=threads["flight"].pk).update(status=Thread.Status.RESOLVED)
    assert not selectors.thread_list(search="ka123", status="open").exists()
    assert selectors.thread_list(search="ka123", status="resolved").count() == 1


@pytest.mark.parametrize(("estimate", "common"), [(20_000, False), (20_001, True)])
def test_the_plan_follows_postgresqls_estimate(
    tenant_a: Company, monkeypatch: pytest.MonkeyPatch, estimate: int, common: bool
) -> None:
    # given PostgreSQL expecting `estimate` matching messages (the real threshold)
    monkeypatch.setattr(selectors, "COMMON_TERM_ROWS", 20_000)
    monkeypatch.setattr(selectors, "_plan_rows", lambda sql, pattern: estimate)
    # when / then
    assert selectors._search_term_is_common("delay") is common


def test_the_estimate_is_postgresqls_row_estimate(tenant_a: Company) -> None:
    # given an analyzed table where every message says "delay"
    from django.db import connection

    thread = ThreadFactory()
    for _ in range(30):
        MessageFactory(thread=thread, text="Sorry for the delay")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE inbox_message")
    # when
    rows = selectors._plan_rows(selectors._ESTIMATE_SQL[0], selectors._like_pattern("delay"))
    # then the planner expects (about) all of them, and none for a word nobody wrote
    assert rows >= 25
    assert selectors._plan_rows(selectors._ESTIMATE_SQL[0], selectors._like_pattern("zebra")) < 5
