"""The inbox in a real browser: live list and thread, reply with ticks, canned replies, layout."""

# ruff: noqa: F811  (the browser fixtures are imported by name and then requested as arguments)

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import Persona
from inbox.models import CannedReply, Contact, Message, PhoneNumber
from inbox.services import messages as message_services
from inbox.tests.browser import DESKTOP, PHONE, browser, committed_db, live_server_url  # noqa: F401
from inbox.tests.factories import CannedReplyFactory, PhoneNumberFactory
from tenants.inbound import InboundMessage, StatusUpdate

pytestmark = pytest.mark.browser
LIVE = 2000  # ms: a change must show within 2 s without a reload
SCREENSHOTS = Path(tempfile.gettempdir())


def _inbound(number: PhoneNumber, wa_id: str, text: str, name: str = "Dora Browser") -> Message:
    item = InboundMessage(
        phone_number_id=number.phone_number_id,
        wamid=f"wamid.browser.{timezone.now().timestamp()}",
        from_wa_id=wa_id,
        type="text",
        text=text,
        payload={"body": text},
        timestamp=timezone.now(),
        profile_name=name,
    )
    message, _ = message_services.message_record_inbound(phone_number=number, item=item)
    return message


@pytest.fixture
def acme_data(personas: dict[str, Persona], committed_db: None) -> Any:
    """Committed rows in acme: a number and a canned reply; everything made is deleted after."""
    alice = personas["alice"]
    with schema_context(alice.company.schema_name):
        sessions_before = set(Session.objects.values_list("session_key", flat=True))
        number = PhoneNumberFactory()
        canned = CannedReplyFactory(shortcut="thanks", body="Thank you, we are on it!")
    try:
        yield alice, number
    finally:
        with schema_context(alice.company.schema_name):
            Contact.objects.filter(threads__phone_number=number).delete()
            number.delete()
            CannedReply.objects.filter(pk=canned.pk).delete()
            Session.objects.exclude(session_key__in=sessions_before).delete()


def _log_in(page: Any, base: str, persona: Persona) -> None:
    page.goto(f"{base}/login/")
    page.locator("input[name=username]").fill(persona.user.email)
    page.locator("input[name=password]").fill(persona.password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{base}/inbox/")


def test_live_list_thread_reply_and_ticks(acme_data: Any, live_server_url: str, browser: Any) -> None:
    from playwright.sync_api import expect

    alice, number = acme_data
    base = live_server_url.replace("localhost", f"{alice.company.slug}.localhost")
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(10000)
    _log_in(page, base, alice)

    # given: alice has the inbox open
    page.goto(f"{base}/inbox/")
    expect(page.get_by_role("heading", name="Inbox")).to_be_visible()

    # when: a customer writes (with markup that must stay text)
    with schema_context(alice.company.schema_name):
        first = _inbound(number, "4915700001111", "<script>window.pwned=1</script>Is my order ready?")
    row = page.locator(f"#thread-{first.thread.public_id}")
    # then: the thread shows up in the list without a reload, with its unread badge
    expect(row).to_contain_text("Is my order ready?", timeout=LIVE)
    expect(row.locator(".unread-badge")).to_contain_text("1")
    assert page.evaluate("window.pwned") is None

    # when: alice opens it and the customer writes again
    row.get_by_role("link").click()
    expect(page.get_by_role("heading", name="Dora Browser")).to_be_visible()
    with schema_context(alice.company.schema_name):
        second = _inbound(number, "4915700001111", "Order number is A-17")
    # then: the message appears in the open thread
    expect(page.locator(f"#m-{second.public_id}")).to_contain_text("Order number is A-17", timeout=LIVE)
    assert page.evaluate("window.pwned") is None

    # when: alice types a canned-reply shortcut and sends it
    box = page.get_by_label("Reply to Dora Browser")
    box.click()
    box.type("/thanks")
    box.press("Tab")
    expect(box).to_have_value("Thank you, we are on it!")
    page.get_by_role("button", name="Send", exact=True).click()
    # then: the reply shows with its queued tick
    reply = page.locator(".msg--outbound").filter(has_text="Thank you, we are on it!")
    expect(reply.locator(".tick--queued")).to_be_visible(timeout=LIVE)

    # when: the provider reports it delivered (stamped a minute ago, as reports can be)
    with schema_context(alice.company.schema_name):
        sent = Message.objects.get(thread=first.thread, direction="outbound")
        message_services.message_status_apply(
            item=StatusUpdate(
                phone_number_id=number.phone_number_id,
                wamid="wamid.browser.reply",
                status="delivered",
                timestamp=timezone.now() - timedelta(minutes=1),
                callback_data=str(sent.public_id),
            )
        )
    # then: the tick moves to delivered without a reload
    expect(page.locator(f"#m-{sent.public_id} .tick--delivered")).to_be_visible(timeout=LIVE)

    # when: the live updates cannot reach the server
    page.route("**/updates/**", lambda route: route.abort())
    # then: the page says so, and stops saying so once they work again
    expect(page.locator("[data-live-banner]").first).to_be_visible(timeout=LIVE)
    page.unroute("**/updates/**")
    expect(page.locator("[data-live-banner]").first).to_be_hidden(timeout=LIVE)

    # and: the layout at desktop and phone widths
    page.screenshot(path=SCREENSHOTS / "kontakt-inbox-thread-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    expect(page.locator(".list-pane")).to_be_hidden()
    expect(page.get_by_role("link", name="← All threads")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "kontakt-inbox-thread-phone.png", full_page=True)
    page.goto(f"{base}/inbox/")
    page.screenshot(path=SCREENSHOTS / "kontakt-inbox-list-phone.png", full_page=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=SCREENSHOTS / "kontakt-inbox-list-desktop.png", full_page=True)


def _tab_until(page: Any, selector: str, limit: int = 120) -> int:
    """Presses Tab until the element matching `selector` has the focus; answers how many presses."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return presses
    raise AssertionError(f"Tab never reached {selector}")


def test_keyboard_reaches_the_composer_and_notes_offer_mentions(
    acme_data: Any, personas: dict[str, Persona], live_server_url: str, browser: Any
) -> None:
    from playwright.sync_api import expect

    alice, number = acme_data
    base = live_server_url.replace("localhost", f"{alice.company.slug}.localhost")
    with schema_context(alice.company.schema_name):
        message = _inbound(number, "4915700002222", "Can someone call me back?", name="Erik Keys")
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(10000)
    _log_in(page, base, alice)
    page.goto(f"{base}/inbox/threads/{message.thread.public_id}/")
    expect(page.get_by_role("heading", name="Erik Keys")).to_be_visible()

    # when: alice moves through the page with Tab from the top
    page.locator("body").focus()
    first = _tab_until(page, "a.skip-link")
    to_reply = _tab_until(page, "#reply-text")
    # then: the reply box comes, and Tab leaves it (no canned-reply trap) for the file input and Send
    page.keyboard.type("Calling you in 5 minutes")
    _tab_until(page, "#reply-attachment", limit=5)
    _tab_until(page, "#composer form.reply-form button[type=submit]", limit=5)
    assert first == 1
    assert to_reply > 1

    # when: alice writes a note and types the start of bob's name
    page.get_by_text("Add an internal note").click()
    note = page.get_by_label("Internal note (only agents see it; mention with @name)")
    note.click()
    note.type("Please call, @bo")
    # then: bob is offered, and Tab completes his handle
    expect(page.get_by_role("button", name="Bob Agent (@bob)")).to_be_visible()
    note.press("Tab")
    expect(note).to_have_value("Please call, @bob ")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".tl-item.note mark.mention")).to_have_text("@bob")
