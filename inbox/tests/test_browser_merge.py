"""Merging a duplicate contact from the contact sidebar and a thread into another from the
thread's header, in headless Chromium."""

# ruff: noqa: F811  (the browser fixtures are imported by name and then requested as arguments)

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django_tenants.utils import schema_context

from conftest import Persona
from inbox.models import Contact, Message, PrivacyLog, Thread
from inbox.tests.browser import DESKTOP, browser, committed_db, live_server_url  # noqa: F401
from inbox.tests.factories import ContactFactory, MessageFactory, PhoneNumberFactory, ThreadFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def duplicates(personas: dict[str, Persona], committed_db: None) -> Any:
    """Committed in acme: one person as two contacts, each with a thread on the same number."""
    alice = personas["alice"]
    with schema_context(alice.company.schema_name):
        sessions_before = set(Session.objects.values_list("session_key", flat=True))
        number = PhoneNumberFactory()
        keep = ContactFactory(name="Merle Keep", phone="+4915177700001")
        dup = ContactFactory(name="Merle Duplicate", phone="+4915177700002")
        keep_thread = ThreadFactory(contact=keep, phone_number=number)
        dup_thread = ThreadFactory(contact=dup, phone_number=number)
        MessageFactory(thread=keep_thread, text="Tisch für zwei?")
        MessageFactory(thread=dup_thread, text="Und ein Kinderstuhl bitte")
    try:
        yield alice, keep, dup, keep_thread
    finally:
        with schema_context(alice.company.schema_name):
            PrivacyLog.objects.filter(contact_public_id=keep.public_id).delete()
            Contact.objects.filter(pk__in=[keep.pk, dup.pk]).delete()
            number.delete()
            Session.objects.exclude(session_key__in=sessions_before).delete()


def _login(browser: Any, base: str, persona: Persona) -> Any:
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(10000)
    page.goto(f"{base}/login/")
    page.locator("input[name=username]").fill(persona.user.email)
    page.locator("input[name=password]").fill(persona.password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{base}/inbox/")
    return page


def test_merge_a_duplicate_from_the_contact_sidebar(duplicates: Any, live_server_url: str, browser: Any) -> None:
    from playwright.sync_api import expect

    alice, keep, dup, keep_thread = duplicates
    base = live_server_url.replace("localhost", f"{alice.company.slug}.localhost")
    page = _login(browser, base, alice)

    # given: the kept contact's thread is open
    page.goto(f"{base}/inbox/threads/{keep_thread.public_id}/")
    # when: merge → search → pick → confirm
    page.get_by_role("link", name="Merge a duplicate into this contact…").click()
    page.get_by_label("Name or phone number").fill("Merle")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="Merle Keep")).to_have_count(0)
    page.get_by_role("link", name="Merle Duplicate").click()
    expect(page.get_by_role("heading", name="Merge these contacts?")).to_be_visible()
    page.get_by_role("button", name="Merge").click()
    # then: back in the thread, with both conversations and the merge shown in the timeline
    page.wait_for_url(f"{base}/inbox/threads/{keep_thread.public_id}/")
    expect(page.locator(".tl-item.system-event")).to_contain_text("Merged from the contact Merle Duplicate")
    expect(page.locator(".tl-item.msg")).to_have_count(2)
    expect(page.locator(".tl-item.msg .text", has_text="Und ein Kinderstuhl bitte")).to_be_visible()
    with schema_context(alice.company.schema_name):
        assert not Contact.objects.filter(pk=dup.pk).exists()
        assert Thread.objects.filter(contact=keep).count() == 1
        assert Message.objects.filter(thread__contact=keep).count() == 2
    page.close()


@pytest.fixture
def split_conversation(personas: dict[str, Persona], committed_db: None) -> Any:
    """Committed in acme: one customer who wrote to two of the company's numbers."""
    alice = personas["alice"]
    with schema_context(alice.company.schema_name):
        sessions_before = set(Session.objects.values_list("session_key", flat=True))
        numbers = [PhoneNumberFactory(), PhoneNumberFactory()]
        contact = ContactFactory(name="Ronja Zweikanal", phone="+4915177700031")
        into = ThreadFactory(contact=contact, phone_number=numbers[0])
        source = ThreadFactory(contact=contact, phone_number=numbers[1])
        MessageFactory(thread=into, text="Ist der Tisch am Fenster frei?")
        MessageFactory(thread=source, text="Wir kommen zu dritt")
    try:
        yield alice, personas["bob"], into, source
    finally:
        with schema_context(alice.company.schema_name):
            PrivacyLog.objects.filter(contact_public_id=contact.public_id).delete()
            contact.delete()
            for number in numbers:
                number.delete()
            Session.objects.exclude(session_key__in=sessions_before).delete()


def test_merge_a_thread_into_another_and_the_open_thread_shows_it_live(
    split_conversation: Any, live_server_url: str, browser: Any
) -> None:
    from playwright.sync_api import expect

    alice, bob, into, source = split_conversation
    base = live_server_url.replace("localhost", f"{alice.company.slug}.localhost")
    # given: bob (an agent, who may not merge) has the thread that will survive open, its
    # list pane showing both threads, and in another window the thread that will be merged away
    watching = _login(browser, base, bob)
    watching.goto(f"{base}/inbox/threads/{into.public_id}/")
    expect(watching.get_by_role("link", name="Merge into another thread…")).to_have_count(0)
    expect(watching.locator(".tl-item.msg")).to_have_count(1)
    expect(watching.locator(f"#thread-{source.public_id}")).to_have_count(1)
    stale = _login(browser, base, bob)
    stale.goto(f"{base}/inbox/threads/{source.public_id}/")
    expect(stale.locator(".tl-item.msg .text", has_text="Wir kommen zu dritt")).to_be_visible()
    # when: alice merges the other thread into it: action → search → pick → confirm
    page = _login(browser, base, alice)
    page.goto(f"{base}/inbox/threads/{source.public_id}/")
    page.get_by_role("link", name="Merge into another thread…").click()
    expect(page.get_by_role("heading", name="Other threads of Ronja Zweikanal")).to_be_visible()
    page.get_by_label("Contact name or phone number").fill("Zweikanal")
    page.get_by_role("button", name="Search").click()
    into_link = f"Ronja Zweikanal via {into.phone_number.display_number}"
    expect(page.get_by_role("link", name=f"Ronja Zweikanal via {source.phone_number.display_number}")).to_have_count(0)
    page.get_by_role("link", name=into_link).click()
    expect(page.get_by_role("heading", name="Merge these threads?")).to_be_visible()
    expect(page.get_by_text("1 message", exact=True)).to_be_visible()
    expect(page.get_by_text("This cannot be undone.")).to_be_visible()
    page.get_by_role("button", name="Merge").click()
    # then: alice lands in the surviving thread with a message, both conversations and the event
    page.wait_for_url(f"{base}/inbox/threads/{into.public_id}/")
    expect(page.locator(".messages")).to_contain_text("was merged into this one")
    expect(page.locator(".tl-item.system-event")).to_contain_text("Merged from the thread with Ronja Zweikanal")
    expect(page.locator(".tl-item.msg")).to_have_count(2)
    # and bob's open page shows the event and the moved message without a reload
    expect(watching.locator(".tl-item.system-event")).to_contain_text("Merged from the thread with Ronja Zweikanal")
    expect(watching.locator(".tl-item.msg .text", has_text="Wir kommen zu dritt")).to_be_visible()
    expect(watching.locator(".tl-item.msg")).to_have_count(2)
    # and the merged-away thread's row leaves bob's list, the surviving one stays
    expect(watching.locator(f"#thread-{source.public_id}")).to_have_count(0)
    expect(watching.locator(f"#thread-{into.public_id}")).to_have_count(1)
    expect(watching.locator("[data-live-banner]").first).to_be_hidden()
    # and bob's other window, on the merged-away thread, is taken to the surviving one with a notice
    stale.wait_for_url(f"{base}/inbox/threads/{into.public_id}/")
    expect(stale.locator(".messages")).to_contain_text("The thread you had open was merged into this one.")
    expect(stale.locator(".tl-item.msg")).to_have_count(2)
    expect(stale.locator(".tl-item.system-event")).to_contain_text("Merged from the thread with Ronja Zweikanal")
    expect(stale.locator(f"#thread-{source.public_id}")).to_have_count(0)
    expect(stale.locator("[data-live-banner]").first).to_be_hidden()
    # the notice was given once: the next page load has none left over
    expect(stale.locator(".messages li")).to_have_count(1)
    stale.reload()
    expect(stale.locator(".tl-item.msg")).to_have_count(2)
    expect(stale.locator(".messages")).to_have_count(0)
    with schema_context(alice.company.schema_name):
        assert not Thread.objects.filter(pk=source.pk).exists()
        assert Message.objects.filter(thread=into).count() == 2
    stale.close()
    watching.close()
    page.close()
