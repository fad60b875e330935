"""The German interface is complete (docs/i18n.md).

Three independent checks, because each catches what the others miss:

1. The catalogue: `makemessages` run on a copy of the sources finds every marked string,
   and each has a German translation in the compiled catalogue Django actually loads.
2. The committed `.mo` is the compiled form of the committed `.po` (no stale binary), and
   the `.po` has no fuzzy or empty entries.
3. The pages: every GET page of both URLconfs that renders HTML, with seeded objects so
   detail pages render, is requested in German; its visible text and its accessible labels
   must contain no English sentence words and no known English UI label. This catches
   strings nobody marked for translation, which the catalogue check cannot see.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import polib
import pytest
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import trans_real
from django_tenants.utils import schema_context

from accounts import tasks as accounts_tasks
from accounts.models import User
from accounts.services import api_key_create
from accounts.tests.factories import InvitationFactory
from billing import services as billing_services
from billing.models import Invoice, Plan, Subscription, UsageDaily
from conftest import Persona
from inbox.forms import cursor_encode
from inbox.models import Message, Thread
from inbox.services import numbers
from inbox.tests.factories import (
    CannedReplyFactory,
    ContactFactory,
    LabelFactory,
    MessageFactory,
    NoteFactory,
    TemplateFactory,
    ThreadFactory,
)
from inbox.tests.factories_broadcasts import BroadcastFactory
from inbox.tests.factories_webhooks import WebhookDeliveryFactory, WebhookSubscriptionFactory
from tenants import services as tenant_services

BASE_DIR = Path(settings.BASE_DIR)
PO_FILE = BASE_DIR / "locale" / "de" / "LC_MESSAGES" / "django.po"
MO_FILE = BASE_DIR / "locale" / "de" / "LC_MESSAGES" / "django.mo"

# Words of English sentences that German UI text never contains as whole words. ("an",
# "in", "so", "was", "will", "die", "also" and "man" are German words too, so they are not here.)
ENGLISH_WORDS = re.compile(
    r"\b(the|and|your|you|with|this|that|are|for|from|yet|of|to|is|has|have|can|here|there|"
    r"what|which|when|none|not|only|by|at|on|or|no|any|new|been|its|it|we|our|be)\b",
    re.IGNORECASE,
)
# An English date: the month before the day ("Nov 25, 14:00"); German puts the day first.
ENGLISH_DATE = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\.? \d")
# Single-word English labels (exact text of an element or an accessible name).
ENGLISH_LABELS = {
    "Add",
    "Back",
    "Cancel",
    "Close",
    "Delete",
    "Download",
    "Edit",
    "Home",
    "Inbox",
    "Log in",
    "Log out",
    "Next",
    "Previous",
    "Reply",
    "Resolve",
    "Save",
    "Search",
    "Send",
    "Settings",
    "Snooze",
    "Submit",
    "Assign",
    "Reopen",
    "Yes",
    "Open",
    "Sent",
    "Delivered",
    "Read",
    "Failed",
}
ACCESSIBLE_ATTRIBUTES = {"aria-label", "placeholder", "title", "alt", "data-label"}
SKIPPED_ELEMENTS = {"script", "style", "code", "pre", "textarea", "svg"}

# Routes with parameters: how to fill them from the seeded objects (None: not a GET page
# that renders HTML; the test checks that GET is refused or answers a file).
ParamFill = dict[str, Any]


# --- 1 and 2: the catalogue ------------------------------------------------------------------


def _loaded_german_catalog() -> Any:
    translation.activate("de")
    try:
        return trans_real.translation("de")._catalog  # the merged catalogue Django serves
    finally:
        translation.deactivate()


def test_every_marked_string_has_a_german_translation(tmp_path: Path) -> None:
    """makemessages on a copy of the sources: every msgid is translated in the served catalogue."""
    if shutil.which("xgettext") is None:
        pytest.fail("GNU gettext (xgettext) is missing: apt-get install gettext (see docs/i18n.md)")
    copy = tmp_path / "src"
    shutil.copytree(
        BASE_DIR,
        copy,
        ignore=shutil.ignore_patterns(
            ".*", "node_modules", "staticfiles", "media", "__pycache__", "*.pyc", "*.mo", "*.po", "bench"
        ),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "de", "--no-location", "--no-obsolete"],
        cwd=copy,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "1", "HOME": str(tmp_path)},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    extracted = [polib.pofile(str(path)) for path in copy.rglob("de/LC_MESSAGES/django.po")]
    assert extracted, "makemessages wrote no catalogue"
    catalog = _loaded_german_catalog()
    missing = []
    for po in extracted:
        for entry in po:
            if entry.msgid_plural:
                keys = [(entry.msgid, 0), (entry.msgid, 1)]
                if not all(key in catalog and catalog[key] for key in keys):
                    missing.append(entry.msgid)
            elif (
                not catalog.get(entry.msgid)
                if entry.msgctxt is None
                else not catalog.get(f"{entry.msgctxt}\x04{entry.msgid}")
            ):
                missing.append(entry.msgid)
    assert not missing, "untranslated (add them to locale/de/LC_MESSAGES/django.po):\n" + "\n".join(missing)


def catalogue_table(entries: Any) -> dict[tuple[str | None, str], Any]:
    """{(context, msgid): translation} of a .po or .mo (polib), obsolete entries left out."""
    rows: dict[tuple[str | None, str], Any] = {}
    for e in entries:
        if e.msgid and not getattr(e, "obsolete", False):
            value = tuple(sorted(e.msgstr_plural.items())) if e.msgid_plural else e.msgstr
            rows[(e.msgctxt, e.msgid)] = value
    return rows


def test_the_po_is_complete_and_the_committed_mo_is_its_compiled_form() -> None:
    po = polib.pofile(str(PO_FILE))
    assert po.metadata.get("Language") == "de"
    assert "nplurals=2" in po.metadata.get("Plural-Forms", "")
    fuzzy = [e.msgid for e in po if "fuzzy" in e.flags and not e.obsolete]
    empty = [e.msgid for e in po if not e.obsolete and not e.translated()]
    assert not fuzzy, f"fuzzy entries: {fuzzy}"
    assert not empty, f"untranslated entries: {empty}"

    assert catalogue_table(polib.mofile(str(MO_FILE))) == catalogue_table(po), (
        "locale/de/LC_MESSAGES/django.mo is stale: run `make messages` (docs/i18n.md)"
    )


# --- 3: the pages in German ------------------------------------------------------------------


class _VisibleText(HTMLParser):
    """Text a person sees or hears: text nodes and accessible names, not code or scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip_depth = 0
        self.segments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in SKIPPED_ELEMENTS:
            self.skip_depth += 1
        for name, value in attrs:
            if name in ACCESSIBLE_ATTRIBUTES and value and value.strip():
                self.segments.append(value.strip())
            if tag == "input" and name == "value" and value and dict(attrs).get("type") == "submit":
                self.segments.append(value.strip())

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIPPED_ELEMENTS and self.skip_depth:
            self.skip_depth -= 1

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split())
        if text and not self.skip_depth:
            self.segments.append(text)


def english_in(html: str, data: set[str]) -> list[str]:
    """The visible segments of `html` that are English, leaving out seeded data values."""
    parser = _VisibleText()
    parser.feed(html)
    found = []
    for segment in parser.segments:
        cleaned = segment
        for value in data:
            cleaned = cleaned.replace(value, " ")
        if ENGLISH_WORDS.search(cleaned) or ENGLISH_DATE.search(cleaned) or cleaned.strip() in ENGLISH_LABELS:
            found.append(segment)
    return found


@pytest.fixture
def german_world(charlie: Persona) -> Iterator[dict[str, Any]]:
    """One of every object a detail page shows, in company B (enterprise, owner charlie).

    Customer-side values (names, messages, label names) are German or neutral, so that any
    English on a page is the interface's own; values that are data whatever the language
    (invoice lines issued by the beat in English) are returned as `data` to be ignored.
    """
    company = charlie.company
    with schema_context(company.schema_name):
        number = numbers.phone_number_connect(
            company=company, phone_number_id="770000000000909", display_number="+49 30 7654321", access_token="t"
        )
        label = LabelFactory(name="Stammkunde")
        contact = ContactFactory(name="Jana Schulz", phone="+4915100000001")
        duplicate = ContactFactory(name="Jana Schulz (alt)", phone="+4915100000002")
        thread = ThreadFactory(contact=contact, phone_number=number, last_inbound_at=timezone.now())
        thread.labels.add(label)
        MessageFactory(thread=thread, text="Hallo, ist heute noch ein Tisch frei?")
        MessageFactory(
            thread=thread,
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.DELIVERED,
            text="Ja, gerne ab 19 Uhr.",
            sent_by=charlie.user,
        )
        NoteFactory(thread=thread, body="Rückruf vereinbart", author=charlie.user)
        MessageFactory(  # a reply sent later (send-later list on the thread page)
            thread=thread,
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.SCHEDULED,
            send_at=timezone.now() + timedelta(hours=2),
            text="Bis heute Abend!",
            wamid=None,
            sent_by=charlie.user,
        )
        MessageFactory(  # a failed one, with the provider's error
            thread=thread,
            direction=Message.Direction.OUTBOUND,
            status=Message.Status.FAILED,
            text="Ihre Reservierung",
            wamid=None,
            sent_by=charlie.user,
            error_code=131047,
        )
        duplicate_thread = ThreadFactory(contact=duplicate, phone_number=number, status=Thread.Status.SNOOZED)
        template = TemplateFactory(name="bestellung_versandt", language="de", body="Hallo {{1}}, Bestellung {{2}}.")
        broadcast = BroadcastFactory(name="Sommerangebot", template=template, phone_number=number)
        reply = CannedReplyFactory(shortcut="zeiten", title="Öffnungszeiten", body="Täglich 11 bis 22 Uhr.")
        subscription = WebhookSubscriptionFactory(url="https://hooks.beispiel.de/kontakt")
        WebhookDeliveryFactory(event__subscription=subscription)
        token = "einladung-" + uuid.uuid4().hex
        InvitationFactory(email="neu@beispiel.de", token=token, invited_by=charlie.user)
        uid = urlsafe_base64_encode(force_bytes(charlie.user.pk))
        reset_token = default_token_generator.make_token(charlie.user)
    invoice = _invoice(company)
    return {
        "company": company,
        "number": number,
        "label": label,
        "contact": contact,
        "duplicate": duplicate,
        "duplicate_thread": duplicate_thread,
        "thread": thread,
        "broadcast": broadcast,
        "reply": reply,
        "subscription": subscription,
        "invitation_token": token,
        "uid": uid,
        "reset_token": reset_token,
        "invoice": invoice,
        # Data, not interface: issued invoice lines, the plans' own texts, CSV literals.
        "data": {line.description for line in invoice.lines.all()}
        | {text for plan in Plan.objects.all() for text in (plan.name, plan.description) if text}
        | {"yes/no"},
    }


def _invoice(company: Any) -> Invoice:
    start = (timezone.now().date().replace(day=1) - timedelta(days=1)).replace(day=1)
    end = timezone.now().date().replace(day=1) - timedelta(days=1)
    enterprise = Plan.objects.get(code="enterprise")
    Subscription.objects.create(company=company, plan=enterprise, started_at=timezone.now() - timedelta(days=400))
    UsageDaily.objects.create(
        company=company, day=start, category="marketing", count=1200, charged_count=1200, amount=Decimal("1524.5000")
    )
    invoice = billing_services.invoice_issue(company=company, start=start, end=end)
    assert invoice is not None
    return invoice


def _fill(name: str, world: dict[str, Any]) -> ParamFill | None:
    """URL kwargs for a parameterised page, or None for a route that is not an HTML GET page."""
    thread, contact, sub = world["thread"], world["contact"], world["subscription"]
    pages: dict[str, ParamFill] = {
        "inbox:thread_detail": {"public_id": thread.public_id},
        "inbox:thread_messages_older": {"public_id": thread.public_id},
        "inbox:thread_updates": {"public_id": thread.public_id},
        "inbox:contact_erase": {"public_id": contact.public_id},
        "inbox:contact_merge": {"public_id": contact.public_id},
        "inbox:contact_merge_confirm": {"public_id": contact.public_id, "from_id": world["duplicate"].public_id},
        "inbox:thread_merge": {"public_id": thread.public_id},
        "inbox:thread_merge_confirm": {"public_id": thread.public_id, "into_id": world["duplicate_thread"].public_id},
        "broadcasts:broadcast_detail": {"public_id": world["broadcast"].public_id},
        "broadcasts:broadcast_progress": {"public_id": world["broadcast"].public_id},
        "settings_webhook_detail": {"public_id": sub.public_id},
        "settings_label_update": {"public_id": world["label"].public_id},
        "settings_canned_reply_update": {"public_id": world["reply"].public_id},
        "settings_number_click_to_chat": {"public_id": world["number"].public_id},
        "settings_automation_agent": {"public_id": world["company"] and _owner_id(world)},
        "billing:invoice_detail": {"number": world["invoice"].number},
        "invitation_accept": {"token": world["invitation_token"]},
        "password_reset_confirm": {"uidb64": world["uid"], "token": world["reset_token"]},
    }
    return pages.get(name)


def _query(name: str, world: dict[str, Any]) -> dict[str, str]:
    """Query strings the htmx fragments need (a poll position, a page cursor)."""
    since = (timezone.now() - timedelta(hours=1)).isoformat()
    with schema_context(world["company"].schema_name):
        newest = Message.objects.filter(thread=world["thread"]).order_by("-id").first()
    queries = {
        "inbox:thread_list_updates": {"since": since},
        "inbox:thread_updates": {"since": since},
        "inbox:thread_messages_older": {"before": cursor_encode(newest.created_at, newest.pk)} if newest else {},
    }
    return queries.get(name, {})


def _owner_id(world: dict[str, Any]) -> uuid.UUID:
    with schema_context(world["company"].schema_name):
        return User.objects.get(email="charlie@globex.test").public_id


# Parameterised routes that answer GET with a file, not a page.
FILE_ROUTES = {
    "broadcasts:broadcast_export",
    "billing:invoice_pdf",
    "inbox:contact_export",
    "settings_number_qr_svg",
    "settings_number_qr_png",
}
# Pages for people who are not logged in; asked for with a fresh browser.
ANONYMOUS = {"login", "password_reset", "password_reset_done", "password_reset_complete", "invitation_accept"}
ANONYMOUS.add("password_reset_confirm")


def _routes(urlconf: str) -> Iterator[tuple[str, str, list[str]]]:
    """(route, name, parameter names) of every pattern outside the API and the Django admin."""

    def walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[tuple[str, str, list[str]]]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                if route.startswith(("api/", "admin/")):
                    continue
                inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
                yield from walk(pattern.url_patterns, route, inner)
            elif isinstance(pattern, URLPattern):
                yield route, f"{namespace}{pattern.name}", list(pattern.pattern.regex.groupindex)

    yield from walk(get_resolver(urlconf).url_patterns, "", "")


def _path(route: str, kwargs: ParamFill) -> str:
    path = route
    for key, value in kwargs.items():
        path = re.sub(r"<(?:\w+:)?" + key + ">", str(value), path)
    return "/" + path


def test_every_tenant_page_is_german(charlie: Persona, charlie_client: Client, german_world: dict[str, Any]) -> None:
    # given charlie chose German in his profile (a browser asking for English must not matter)
    saved = charlie_client.post("/profile/", {"language": "de"}, HTTP_ACCEPT_LANGUAGE="en")
    assert saved.status_code == 302
    host = tenant_services.company_host(charlie.company)
    problems: dict[str, list[str]] = {}
    checked = 0
    # when every page is requested
    for route, name, params in _routes("config.urls_tenant"):
        if route in ("healthz",):
            continue
        kwargs = _fill(name, german_world) if params else {}
        if kwargs is None:
            if name in FILE_ROUTES:
                continue
            # a POST-only action: GET is refused before any lookup
            fake = {param: uuid.uuid4() for param in params}
            refused = charlie_client.get(_path(route, fake), HTTP_ACCEPT_LANGUAGE="en")
            assert refused.status_code == 405, f"{name}: a GET page with parameters needs a fill in _fill()"
            continue
        client = Client(HTTP_HOST=host, HTTP_ACCEPT_LANGUAGE="de") if name in ANONYMOUS else charlie_client
        query = _query(name, german_world)
        path = _path(route, kwargs) + (f"?{urlencode(query)}" if query else "")
        response = client.get(path, HTTP_ACCEPT_LANGUAGE="en" if client is charlie_client else "de")
        if response.status_code in (301, 302, 405) or "text/html" not in response.get("Content-Type", ""):
            continue
        assert response.status_code in (200, 286), f"{name}: {response.status_code}"
        checked += 1
        # then nothing on it is English
        found = english_in(response.content.decode(), german_world["data"] | {"Kontakt"})
        if found:
            problems[name] = found
    assert checked >= 30
    assert not problems, "English on German pages:\n" + "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_public_pages_follow_the_browser(public_client: Client, charlie: Persona) -> None:
    phone = "+4915100000009"
    pages = ["/", "/signup/", "/verify/", f"/verify/?phone={phone}"]
    for path in pages:
        # when a German browser asks
        german = public_client.get(path, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
        english = public_client.get(path, HTTP_ACCEPT_LANGUAGE="en")
        # then the page is German, and English for an English browser
        assert german.status_code == 200, path
        assert german["Content-Language"] == "de"
        assert english["Content-Language"] == "en"
        assert english_in(german.content.decode(), {"Kontakt", phone}) == [], path
        assert german.content.decode() != english.content.decode()


def test_profile_language_wins_over_the_browser_and_empty_follows_it(bob: Persona, bob_client: Client) -> None:
    # given bob's browser asks for English and bob chose German
    page = bob_client.get("/profile/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "Interface language" in page.content.decode()
    saved = bob_client.post("/profile/", {"language": "de"}, HTTP_ACCEPT_LANGUAGE="en", follow=True)
    # then the answer and every later page are German
    assert "Ihr Profil ist gespeichert." in saved.content.decode()
    inbox = bob_client.get("/inbox/", HTTP_ACCEPT_LANGUAGE="en")
    assert inbox["Content-Language"] == "de"
    assert "Posteingang" in inbox.content.decode()
    with schema_context(bob.company.schema_name):
        assert User.objects.get(pk=bob.user.pk).language == "de"
    # when he clears it, the browser decides again
    bob_client.post("/profile/", {"language": ""})
    assert bob_client.get("/inbox/", HTTP_ACCEPT_LANGUAGE="de")["Content-Language"] == "de"
    assert bob_client.get("/inbox/", HTTP_ACCEPT_LANGUAGE="en")["Content-Language"] == "en"


def test_an_unknown_profile_language_is_refused(bob: Persona, bob_client: Client) -> None:
    response = bob_client.post("/profile/", {"language": "xx"}, HTTP_ACCEPT_LANGUAGE="de")
    assert response.status_code == 400
    assert "Bitte eine gültige Auswahl treffen." in response.content.decode()  # Django's own German
    with schema_context(bob.company.schema_name):
        assert User.objects.get(pk=bob.user.pk).language == ""


def test_money_and_dates_use_german_separators(charlie_client: Client, german_world: dict[str, Any]) -> None:
    invoice = german_world["invoice"]
    german = charlie_client.get(f"/settings/billing/invoices/{invoice.number}/", HTTP_ACCEPT_LANGUAGE="de")
    english = charlie_client.get(f"/settings/billing/invoices/{invoice.number}/", HTTP_ACCEPT_LANGUAGE="en")
    # 1524.50 EUR usage: German decimal comma and dot grouping, English the other way round
    assert "1.524,50" in german.content.decode()
    assert "1,524.50" in english.content.decode()
    issued = invoice.issued_at
    assert issued.strftime("%d.%m.%Y") in german.content.decode()
    assert issued.strftime("%Y-%m-%d") in english.content.decode()


def test_api_errors_speak_the_requested_language(charlie: Persona) -> None:
    with schema_context(charlie.company.schema_name):
        issued = api_key_create(name="ERP")
    client = Client(HTTP_HOST=charlie.host, HTTP_AUTHORIZATION=f"Bearer {issued.key}")
    body = {"type": "text", "text": "Hallo"}
    german = client.post("/api/v1/messages/", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="de")
    english = client.post("/api/v1/messages/", body, content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    # the code stays, the human text changes
    assert german.status_code == english.status_code == 400
    assert german.json()["error"]["code"] == english.json()["error"]["code"] == "invalid"
    assert "Empfänger" in german.json()["error"]["message"]
    assert "recipient" in english.json()["error"]["message"]


def test_invitation_email_speaks_the_inviters_language(
    charlie_client: Client,
    charlie: Persona,
    tenant_b: Any,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the queued task runs here, with the arguments as they would cross the broker
    task = accounts_tasks.invitation_email_send_task
    monkeypatch.setattr(task, "delay", lambda *args: task.run(*json.loads(json.dumps(args))))
    charlie_client.post("/profile/", {"language": "de"})
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = charlie_client.post("/settings/team/invite/", {"email": "neu2@beispiel.de", "role": "agent"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "hat Sie zu" in message.subject
    assert "Öffnen Sie diesen Link" in message.body
    assert english_in(message.alternatives[0][0], {"Kontakt", charlie.company.name, "Charlie Owner"}) == []


def test_password_reset_email_speaks_the_users_language(
    charlie: Persona, django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the queued task runs here, with the arguments as they would cross the broker
    task = accounts_tasks.password_reset_email_send_task
    monkeypatch.setattr(task, "delay", lambda *args: task.run(*json.loads(json.dumps(args))))
    with schema_context(charlie.company.schema_name):
        User.objects.filter(pk=charlie.user.pk).update(language="de")
    client = Client(HTTP_HOST=charlie.host, HTTP_ACCEPT_LANGUAGE="en")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password-reset/", {"email": charlie.user.email})
    assert len(mail.outbox) == 1
    assert "zurücksetzen" in mail.outbox[0].subject
