"""A contact deleted while agents have its thread open, in headless Chromium: the row leaves
the open thread list at the next live update and the open conversation goes to the list,
saying why (as for a merge, test_browser_merge.py)."""

# ruff: noqa: F811  (the browser fixtures are imported by name and then requested as arguments)

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django_tenants.utils import schema_context

from conftest import Persona
from inbox.models import Contact, PrivacyLog
from inbox.services import contacts as contact_services
from inbox.tests.browser import DESKTOP, browser, committed_db, live_server_url  # noqa: F401
from inbox.tests.factories import ContactFactory, MessageFactory, PhoneNumberFactory, ThreadFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def doomed(personas: dict[str, Persona], committed_db: None) -> Any:
    """Committed in acme: a customer whose contact will be deleted, and one who stays."""
    alice = personas["alice"]
    with schema_context(alice.company.schema_name):
        sessions_before = set(Session.objects.values_list("session_key", flat=True))
        number = PhoneNumberFactory()
        contact = ContactFactory(name="Dora Weg", phone="+4915177700051")
        stays = ContactFactory(name="Bleibt Hier", phone="+4915177700052")
        thread = ThreadFactory(contact=contact, phone_number=number)
        other = ThreadFactory(contact=stays, phone_number=number)
        MessageFactory(thread=thread, text="Bitte alles löschen")
        MessageFactory(thread=other, text="Ich bleibe")
    try:
        yield alice, personas["bob"], contact, thread, other
    finally:
        with schema_context(alice.company.schema_name):
            PrivacyLog.objects.filter(contact_public_id=contact.public_id).delete()
            Contact.objects.filter(pk__in=[contact.pk, stays.pk]).delete()
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


def test_a_deleted_contacts_thread_leaves_open_lists_and_pages_live(
    doomed: Any, live_server_url: str, browser: Any
) -> None:
    from playwright.sync_api import expect

    alice, bob, contact, thread, other = doomed
    base = live_server_url.replace("localhost", f"{alice.company.slug}.localhost")
    # given: bob has the list open, and in another window the conversation
    listing = _login(browser, base, bob)
    expect(listing.locator(f"#thread-{thread.public_id}")).to_have_count(1)
    expect(listing.locator(f"#thread-{other.public_id}")).to_have_count(1)
    open_page = _login(browser, base, bob)
    open_page.goto(f"{base}/inbox/threads/{thread.public_id}/")
    expect(open_page.locator(".tl-item.msg .text", has_text="Bitte alles löschen")).to_be_visible()
    # when: the contact is deleted (as DELETE /api/v1/contacts/{id}/ does)
    with schema_context(alice.company.schema_name):
        contact_services.contact_delete(contact=contact)
    # then: the row goes from the list without a reload, the other stays
    expect(listing.locator(f"#thread-{thread.public_id}")).to_have_count(0)
    expect(listing.locator(f"#thread-{other.public_id}")).to_have_count(1)
    # and the open conversation goes to the list, saying why
    open_page.wait_for_url(f"{base}/inbox/")
    expect(open_page.get_by_text("This conversation was deleted.")).to_be_visible()
    expect(open_page.locator(f"#thread-{thread.public_id}")).to_have_count(0)
    listing.close()
    open_page.close()
