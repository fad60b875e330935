from __future__ import annotations

import pytest

from inbox import selectors
from inbox.models import Thread
from inbox.tests.factories import ContactFactory, MessageFactory, ThreadFactory
from tenants.models import Company


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
