"""Merging a duplicate contact from the contact sidebar, in headless Chromium."""

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


def test_merge_a_duplicate_from_the_contact_sidebar(duplicates: Any, live_server_url: str, browser: Any) -> None:
    from playwright.sync_api import expect

    alice, keep, dup, keep_thread = duplicates
    base = live_server_url.replace("localhost", f"{alice.company.slug}.localhost")
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(10000)
    page.goto(f"{base}/login/")
    page.locator("input[name=username]").fill(alice.user.email)
    page.locator("input[name=password]").fill(alice.password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{base}/inbox/")

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
