"""Broadcasts in a real browser: compose to labelled contacts, dry run, start, live progress to completed."""

# ruff: noqa: F811  (the browser fixtures are imported by name and then requested as arguments)

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django_tenants.utils import schema_context

from conftest import Persona
from inbox.models import Broadcast, Contact, Delivery, Label, Message, PhoneNumber, Template, Thread
from inbox.services import broadcasts as services
from inbox.services import numbers
from inbox.tests.browser import DESKTOP, PHONE, browser, committed_db, live_server_url  # noqa: F401
from inbox.tests.factories import LabelFactory, TemplateFactory
from inbox.tests.factories_broadcasts import OptedInContactFactory
from tenants.models import PhoneNumberRoute

pytestmark = pytest.mark.browser
RECIPIENTS = 30
CHUNK = 10
LIVE = 4000  # ms: two polls at most
SCREENSHOTS = Path(tempfile.gettempdir())


@pytest.fixture
def acme_audience(personas: dict[str, Persona], committed_db: None, settings: Any) -> Any:
    """Committed rows in acme: a number, two approved templates, 30 labelled opted-in contacts
    and 2 opted-out ones; everything made (broadcasts, threads, messages too) is deleted after."""
    settings.BROADCAST_CHUNK_SIZE = CHUNK
    alice = personas["alice"]
    tag = uuid.uuid4().hex[:8]
    number = numbers.phone_number_connect(
        company=alice.company, phone_number_id=f"88{int(tag, 16):012d}", display_number="+4930777000"
    )
    with schema_context(alice.company.schema_name):
        sessions_before = set(Session.objects.values_list("session_key", flat=True))
        templates = [
            TemplateFactory(name=f"welcome_{tag}", body="Welcome!"),
            TemplateFactory(name=f"delay_{tag}", body="Hello {{2}}, flight {{1}} is delayed.", footer="Kontakt Air"),
        ]
        label = LabelFactory(name=f"flight-{tag}")
        contacts = [OptedInContactFactory(name=f"Passenger {i}") for i in range(RECIPIENTS + 2)]
        for contact in contacts[RECIPIENTS:]:
            contact.opted_out = True
            contact.save()
        label.contacts.add(*contacts)
    try:
        yield alice, number, label, templates[1]
    finally:
        with schema_context(alice.company.schema_name):
            ids = [c.pk for c in contacts]
            broadcast_ids = list(Broadcast.objects.filter(phone_number=number).values_list("pk", flat=True))
            Delivery.objects.filter(broadcast_id__in=broadcast_ids).delete()
            Broadcast.objects.filter(pk__in=broadcast_ids).delete()
            Message.objects.filter(thread__contact_id__in=ids).delete()
            Thread.objects.filter(contact_id__in=ids).delete()
            Contact.objects.filter(pk__in=ids).delete()
            Template.objects.filter(pk__in=[t.pk for t in templates]).delete()
            Label.objects.filter(pk=label.pk).delete()
            PhoneNumber.objects.filter(pk=number.pk).delete()
            Session.objects.exclude(session_key__in=sessions_before).delete()
        connection.set_schema_to_public()
        PhoneNumberRoute.objects.filter(phone_number_id=number.phone_number_id).delete()


def _log_in(page: Any, base: str, persona: Persona) -> None:
    page.goto(f"{base}/login/")
    page.locator("input[name=username]").fill(persona.user.email)
    page.locator("input[name=password]").fill(persona.password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{base}/inbox/")


def _send_chunk(schema: str, broadcast: Broadcast, k: int) -> None:
    """What one chunk task does, in this thread: ids [first + k*CHUNK, first + (k+1)*CHUNK)."""
    lo = broadcast.first_delivery_id + k * CHUNK
    with schema_context(schema):
        services.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=lo, hi=lo + CHUNK)


def test_agent_composes_runs_the_dry_run_starts_and_watches_it_complete(
    acme_audience: Any, live_server_url: str, browser: Any
) -> None:
    from playwright.sync_api import expect

    alice, number, label, template = acme_audience
    schema = alice.company.schema_name
    base = live_server_url.replace("localhost", f"{alice.company.slug}.localhost")
    page = browser.new_page(viewport=DESKTOP)
    page.set_default_timeout(10000)
    _log_in(page, base, alice)

    # given: alice opens Broadcasts from the main navigation and starts a new one
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Broadcasts").click()
    expect(page.get_by_role("heading", name="Broadcasts", exact=True)).to_be_visible()
    page.get_by_role("link", name="New broadcast").click()

    # when: she composes it: template with a preview, parameters, the label audience
    page.get_by_label("Name:", exact=True).fill("Flight LH123 <delayed>")
    page.get_by_label("Send from").select_option(label=number.display_number)
    page.get_by_label("Approved template").select_option(label=f"{template.name} (en, utility)")
    preview = page.locator("#template-preview .wa-body")
    expect(preview).to_contain_text("Hello {{2}}, flight {{1}} is delayed.")
    page.get_by_label("Value of {{1}}").fill("LH123")
    page.get_by_label("Fill {{2}} with").select_option("contact")
    page.get_by_label("Value of {{2}}").fill("name")
    expect(preview).to_contain_text("Hello [contact: name], flight LH123 is delayed.")
    expect(page.locator("#template-part .errorlist")).to_have_count(0)
    labels_group = page.locator("[data-audience=labels]")
    expect(labels_group).to_be_hidden()
    page.get_by_label("Contacts with any of these labels").check()
    expect(labels_group).to_be_visible()
    labels_group.get_by_label(label.name, exact=True).check()
    page.screenshot(path=SCREENSHOTS / "kontakt-broadcast-new-desktop.png", full_page=True)
    page.get_by_role("button", name="Continue to the dry run").click()

    # then: the dry run shows who gets it and who is left out, before anything is sent
    expect(page.get_by_role("heading", name="Dry run")).to_be_visible()
    expect(page.locator("[data-dry-run=audience]")).to_have_text(str(RECIPIENTS))
    expect(page.get_by_text("Opted out: 2")).to_be_visible()
    expect(page.get_by_role("heading", name="Flight LH123 <delayed>")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "kontakt-broadcast-dry-run-desktop.png", full_page=True)

    # when: she starts it from the keyboard
    start = page.get_by_role("button", name="Start sending now")
    start.focus()
    page.keyboard.press("Enter")

    # then: the page is live and shows nothing sent yet
    progress = page.locator("#broadcast-progress")
    expect(progress.locator(".progress-text")).to_contain_text(f"0 of {RECIPIENTS}")
    expect(progress.locator(".bstatus")).to_have_text("Running")
    with schema_context(schema):
        broadcast = Broadcast.objects.get(phone_number=number)

    # when: the first chunk is sent
    _send_chunk(schema, broadcast, 0)
    # then: the bar and counts move without a reload
    expect(progress.locator(".progress-text")).to_contain_text(f"{CHUNK} of {RECIPIENTS}", timeout=LIVE)
    expect(progress.locator("[data-count=sent]")).to_have_text(str(CHUNK))
    expect(progress.locator("[data-count=queued]")).to_have_text(str(RECIPIENTS - CHUNK))
    expect(progress).to_contain_text("msgs/s")

    # when: the live updates cannot reach the server
    page.route("**/progress/**", lambda route: route.abort())
    # then: the page says so, and stops saying so once they work again
    banner = page.locator("[data-live-banner]")
    expect(banner).to_be_visible(timeout=LIVE)
    page.unroute("**/progress/**")
    expect(banner).to_be_hidden(timeout=LIVE)

    # when: the rest is sent
    for k in range(1, RECIPIENTS // CHUNK):
        _send_chunk(schema, broadcast, k)
    # then: completed, live, and the polling stops
    expect(progress.locator(".bstatus")).to_have_text("Completed", timeout=LIVE)
    expect(progress.locator(".progress-text")).to_contain_text(f"{RECIPIENTS} of {RECIPIENTS}")
    expect(page.locator("progress.bar")).to_have_attribute("value", str(RECIPIENTS))
    expect(progress.locator("[data-count=sent]")).to_have_text(str(RECIPIENTS))
    expect(page.get_by_role("button", name="Pause")).to_have_count(0)
    expect(page.locator("#broadcast-status")).to_have_text("Completed")
    # and: the recipient table is fetched once more, so it agrees with the counts
    expect(page.locator("#recipients .rstatus--sent")).to_have_count(RECIPIENTS)
    polls: list[str] = []
    page.on("request", lambda request: polls.append(request.url) if "/progress/" in request.url else None)
    time.sleep(2.5)
    assert polls == []

    # and: readable at phone width, nothing wider than the screen
    page.screenshot(path=SCREENSHOTS / "kontakt-broadcast-detail-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=SCREENSHOTS / "kontakt-broadcast-detail-phone.png", full_page=True)
    page.goto(f"{base}/broadcasts/new/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=SCREENSHOTS / "kontakt-broadcast-new-phone.png", full_page=True)
