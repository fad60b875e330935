"""Send later in a real browser: schedule a reply, see it scheduled, cancel another."""

# ruff: noqa: F811  (the browser fixtures are imported by name and then requested as arguments)

from __future__ import annotations

import tempfile
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import Persona
from inbox.models import Contact, Message, PhoneNumber
from inbox.services import messages as message_services
from inbox.services import scheduled
from inbox.tests.browser import DESKTOP, browser, committed_db, live_server_url  # noqa: F401
from inbox.tests.factories import PhoneNumberFactory
from tenants.inbound import InboundMessage

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(tempfile.gettempdir())


@pytest.fixture
def acme_thread(personas: dict[str, Persona], committed_db: None) -> Any:
    """Committed rows in acme: a number and a customer who just wrote; deleted after."""
    alice = personas["alice"]
    with schema_context(alice.company.schema_name):
        sessions_before = set(Session.objects.values_list("session_key", flat=True))
        number = PhoneNumberFactory()
        item = InboundMessage(
            phone_number_id=number.phone_number_id,
            wamid=f"wamid.browser.later.{timezone.now().timestamp()}",
            from_wa_id="4915700002222",
            type="text",
            text="Can you confirm my booking tomorrow?",
            payload={"body": "Can you confirm my booking tomorrow?"},
            timestamp=timezone.now(),
            profile_name="Erik Later",
        )
        message, _ = message_services.message_record_inbound(phone_number=number, item=item)
    try:
        yield alice, number, message.thread
    finally:
        with schema_context(alice.company.schema_name):
            Contact.objects.filter(threads__phone_number=number).delete()
            PhoneNumber.objects.filter(pk=number.pk).delete()
            Session.objects.exclude(session_key__in=sessions_before).delete()


def _log_in(page: Any, base: str, persona: Persona) -> None:
    page.goto(f"{base}/login/")
    page.locator("input[name=username]").fill(persona.user.email)
    page.locator("input[name=password]").fill(persona.password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{base}/inbox/")


def test_agent_schedules_a_reply_sees_it_scheduled_and_cancels_another(
    acme_thread: Any, live_server_url: str, browser: Any
) -> None:
    from playwright.sync_api import expect

    alice, _number, thread = acme_thread
    base = live_server_url.replace("localhost", f"{alice.company.slug}.localhost")
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(10000)
    _log_in(page, base, alice)
    # given: another reply alice scheduled earlier
    with schema_context(alice.company.schema_name):
        other = scheduled.message_schedule(
            thread=thread,
            sender=alice.user,
            send_at=timezone.now() + timedelta(hours=5),
            type="text",
            text="Reminder: bring your voucher",
        )
    page.goto(f"{base}/inbox/threads/{thread.public_id}/")
    expect(page.locator(f"#s-{other.public_id}")).to_contain_text("Reminder: bring your voucher")

    # when: alice writes a reply and schedules it for two hours from now
    when = (timezone.now() + timedelta(hours=2)).astimezone(UTC)
    page.get_by_text("Send later", exact=True).click()
    page.get_by_label("Message", exact=True).fill("Yes, your booking for <4> is confirmed.")
    page.get_by_label("Send at (UTC)").fill(when.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Schedule", exact=True).click()

    # then: the thread shows it as scheduled, with its time, and nothing went out
    with schema_context(alice.company.schema_name):
        mine = Message.objects.get(thread=thread, text="Yes, your booking for <4> is confirmed.")
    item = page.locator(f"#s-{mine.public_id}")
    expect(item).to_contain_text("Scheduled")
    expect(item).to_contain_text(f"{when:%b} {when.day}, {when:%H:%M} UTC")
    expect(item).to_contain_text("Yes, your booking for <4> is confirmed.")
    expect(page.locator(".msg--outbound")).to_have_count(0)
    assert mine.status == Message.Status.SCHEDULED

    # when: alice cancels the other one
    page.locator(f"#s-{other.public_id}").get_by_role("button", name="Cancel").click()

    # then: it is gone from the scheduled list, hers stays, and the other is cancelled
    expect(page.locator(f"#s-{other.public_id}")).to_have_count(0)
    expect(page.locator(f"#s-{mine.public_id}")).to_be_visible()
    expect(page.get_by_text("The scheduled message was cancelled; it will not be sent.")).to_be_visible()
    with schema_context(alice.company.schema_name):
        other.refresh_from_db()
        mine.refresh_from_db()
    assert other.status == Message.Status.CANCELLED
    assert mine.status == Message.Status.SCHEDULED
    page.screenshot(path=SCREENSHOTS / "kontakt-send-later.png", full_page=True)
