"""/broadcasts/: list, composer with the dry run, detail with live progress, actions, CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from conftest import Persona
from inbox import broadcast_selectors, forms_broadcasts
from inbox import views_broadcasts as views
from inbox.models import Broadcast, Contact, Delivery, Label, Message, PhoneNumber, Template
from inbox.services import broadcasts as services
from inbox.services import numbers
from inbox.tests.factories import LabelFactory, MessageFactory, TemplateFactory
from inbox.tests.factories_broadcasts import OptedInContactFactory

LIST = "/broadcasts/"
NEW = "/broadcasts/new/"
PART = "/broadcasts/new/template/"


@dataclass
class Setup:
    number: PhoneNumber
    template: Template
    label: Label
    vip: list[Contact]


@pytest.fixture
def acme(alice: Persona) -> Setup:
    """A connected number, an approved template with two parameters, three VIP contacts
    (one of them opted out) and one opted-in contact without the label."""
    number = numbers.phone_number_connect(
        company=alice.company, phone_number_id=f"77{uuid.uuid4().int % 10**12:012d}", display_number="+4930555111"
    )
    with schema_context(alice.company.schema_name):
        template = TemplateFactory(
            name="flight_delay",
            header="Flight {{1}}",
            body="Hello {{2}}, flight {{1}} is delayed.",
            footer="Kontakt Air",
            buttons=[{"type": "QUICK_REPLY", "text": "Rebook me"}],
        )
        label = LabelFactory(name="vip")
        vip = [OptedInContactFactory(name=f"VIP {i}") for i in range(3)]
        vip[2].opted_out = True
        vip[2].save()
        for contact in vip:
            contact.labels.add(label)
        OptedInContactFactory(name="Not VIP")
    return Setup(number, template, label, vip)


def _compose(setup: Setup, **overrides: Any) -> dict[str, Any]:
    data = {
        "name": "Delay LH123",
        "phone_number": str(setup.number.public_id),
        "template": str(setup.template.public_id),
        "param-1-source": "text",
        "param-1-value": "LH123",
        "param-2-source": "contact",
        "param-2-value": "name",
        "param-2-default": "traveller",
        "audience_type": "labels",
        "labels": ["vip"],
        "schedule": "now",
    }
    data.update(overrides)
    return data


def _draft(persona: Persona, setup: Setup, **kwargs: Any) -> Broadcast:
    kwargs.setdefault("audience", {"type": "labels", "labels": ["vip"]})
    with schema_context(persona.company.schema_name):
        return services.broadcast_create(
            name=kwargs.pop("name", "Delay LH123"),
            template=setup.template,
            phone_number=setup.number,
            template_parameters=["LH123", {"contact": "name"}],
            **kwargs,
        )


def _running(persona: Persona, setup: Setup, **kwargs: Any) -> Broadcast:
    broadcast = _draft(persona, setup, **kwargs)
    with schema_context(persona.company.schema_name):
        return services.broadcast_start(broadcast=broadcast)


# --- permissions ----------------------------------------------------------------------------


def test_every_page_and_action_requires_login(client_a: Client, alice: Persona, acme: Setup) -> None:
    # given
    broadcast = _draft(alice, acme)
    base = f"/broadcasts/{broadcast.public_id}/"
    # when / then
    for url in (LIST, NEW, PART, base, base + "progress/", base + "export.csv"):
        response = client_a.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/")
    for action in ("start", "pause", "resume", "cancel"):
        assert client_a.post(f"{base}{action}/").status_code == 302
    with schema_context(alice.company.schema_name):
        assert Broadcast.objects.get(pk=broadcast.pk).status == Broadcast.Status.DRAFT


def test_another_companys_broadcast_is_404_on_every_page_and_action(
    charlie_client: Client, alice: Persona, acme: Setup
) -> None:
    # given
    broadcast = _running(alice, acme)
    base = f"/broadcasts/{broadcast.public_id}/"
    # when / then
    for url in (base, base + "progress/", base + "export.csv", f"{NEW}?copy={broadcast.public_id}"):
        assert charlie_client.get(url).status_code == 404, url
    for action in ("start", "pause", "resume", "cancel"):
        assert charlie_client.post(f"{base}{action}/").status_code == 404
    with schema_context(alice.company.schema_name):
        assert Broadcast.objects.get(pk=broadcast.pk).status == Broadcast.Status.RUNNING
    listing = charlie_client.get(LIST).content.decode()
    assert str(broadcast.public_id) not in listing


def test_main_navigation_links_to_broadcasts(bob_client: Client) -> None:
    html = bob_client.get("/inbox/").content.decode()
    assert '<a href="/broadcasts/">Broadcasts</a>' in html
    html = bob_client.get(LIST).content.decode()
    assert '<a href="/broadcasts/" aria-current="page">Broadcasts</a>' in html


# --- list -----------------------------------------------------------------------------------


def test_list_shows_name_status_progress_and_times_escaped(
    bob_client: Client, alice: Persona, acme: Setup, django_assert_max_num_queries: Any
) -> None:
    # given
    running = _running(alice, acme, name="<b>Delay</b> LH123")
    _draft(alice, acme, name="Next week")
    # when
    with django_assert_max_num_queries(8):
        response = bob_client.get(LIST)
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "&lt;b&gt;Delay&lt;/b&gt; LH123" in html
    assert "<b>Delay</b>" not in html
    assert "Next week" in html
    assert 'class="bstatus bstatus--running">Running<' in html
    assert "0 of 2" in html  # two VIPs may get it, the third opted out
    assert f'datetime="{running.started_at:%Y-%m-%dT%H:%M}' in html


def test_list_filters_by_status_and_pages(
    bob_client: Client, alice: Persona, acme: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: three drafts and one running broadcast, two per page
    monkeypatch.setattr(views, "LIST_PAGE_SIZE", 2)
    drafts = [_draft(alice, acme, name=f"Draft {i}") for i in range(3)]
    _running(alice, acme, name="Running one")
    # when
    first = bob_client.get(LIST, {"status": "draft"}).content.decode()
    # then: newest first, and a link to the next page that keeps the filter
    assert "Draft 2" in first
    assert "Draft 1" in first
    assert "Draft 0" not in first
    assert "Running one" not in first
    next_link = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    assert "status=draft" in next_link
    second = bob_client.get(LIST + next_link).content.decode()
    assert "Draft 0" in second
    assert "Draft 2" not in second
    assert 'rel="next"' not in second
    assert drafts


def test_list_with_a_broken_page_link_says_so(bob_client: Client) -> None:
    response = bob_client.get(LIST, {"after": "not-a-cursor"})
    assert response.status_code == 400
    assert "This filter or page link is not valid" in response.content.decode()


# --- composer -------------------------------------------------------------------------------


def test_composer_offers_connected_numbers_and_approved_templates_only(
    bob_client: Client, alice: Persona, acme: Setup
) -> None:
    # given
    with schema_context(alice.company.schema_name):
        TemplateFactory(name="still_pending", status=Template.Status.PENDING)
        stray = PhoneNumber.objects.create(phone_number_id="99887766", display_number="+4930999000")
    # when
    html = bob_client.get(NEW).content.decode()
    # then
    assert "flight_delay (en, utility)" in html
    assert "still_pending" not in html
    assert "+4930555111" in html
    assert stray.display_number not in html
    assert "times are UTC" in html


def test_composer_without_a_number_or_template_says_what_is_missing(bob_client: Client) -> None:
    html = bob_client.get(NEW).content.decode()
    assert str(views.NO_NUMBER) in html
    assert str(views.NO_TEMPLATE) in html


def test_template_part_previews_header_body_footer_buttons_with_one_input_per_parameter(
    bob_client: Client, acme: Setup
) -> None:
    # when
    html = bob_client.get(
        PART,
        {
            "template": str(acme.template.public_id),
            "param-1-value": "<i>LH123</i>",
            "param-2-source": "contact",
            "param-2-value": "name",
        },
    ).content.decode()
    # then
    assert '<p class="wa-header">Flight &lt;i&gt;LH123&lt;/i&gt;</p>' in html
    assert "Hello [contact: name], flight &lt;i&gt;LH123&lt;/i&gt; is delayed." in html
    assert "Kontakt Air" in html
    assert "Rebook me" in html
    assert 'name="param-1-value"' in html
    assert 'name="param-2-value"' in html
    assert 'name="param-3-value"' not in html
    empty = bob_client.get(PART, {"template": str(acme.template.public_id)}).content.decode()
    assert str(forms_broadcasts.PARAMETER_REQUIRED) not in empty
    preview_only = bob_client.get(PART, {"template": str(acme.template.public_id), "part": "preview"}).content.decode()
    assert 'name="param-1-value"' not in preview_only
    assert "wa-body" in preview_only


def test_compose_to_labelled_contacts_saves_a_draft_and_shows_the_dry_run(
    bob: Persona, bob_client: Client, acme: Setup
) -> None:
    # when
    response = bob_client.post(NEW, _compose(acme))
    # then
    assert response.status_code == 302
    with schema_context(bob.company.schema_name):
        broadcast = Broadcast.objects.get(name="Delay LH123")
    assert response["Location"] == f"/broadcasts/{broadcast.public_id}/"
    assert broadcast.status == Broadcast.Status.DRAFT
    assert broadcast.audience == {"type": "labels", "labels": ["vip"]}
    assert broadcast.template_parameters == ["LH123", {"contact": "name", "default": "traveller"}]
    assert broadcast.created_by_id == bob.user.pk
    page = bob_client.get(response["Location"]).content.decode()
    assert '<dd data-dry-run="audience"><strong>2</strong></dd>' in page
    assert "Opted out: 1" in page
    assert "Utility: 2 messages" in page
    assert "Start sending now" in page
    assert "Hello [contact: name], flight LH123 is delayed." in page


def test_a_bad_form_shows_readable_errors_and_keeps_every_value(bob: Persona, bob_client: Client, acme: Setup) -> None:
    # when: no name, label audience without labels, an empty parameter, a time in the past
    data = _compose(
        acme,
        name="",
        labels=[],
        **{"param-1-value": "", "param-2-value": "nickname"},
        schedule="later",
        scheduled_at="2020-01-01T10:00",
    )
    response = bob_client.post(NEW, data)
    # then
    html = response.content.decode()
    assert response.status_code == 400
    assert "Nothing was saved" in html
    assert str(forms_broadcasts.LABELS_REQUIRED) in html
    assert str(forms_broadcasts.PARAMETER_REQUIRED) in html
    assert str(forms_broadcasts.SCHEDULE_PAST) in html
    assert 'value="nickname"' in html
    assert 'value="traveller"' in html
    assert 'value="2020-01-01T10:00"' in html
    assert f'<option value="{acme.template.public_id}" selected>' in html
    with schema_context(bob.company.schema_name):
        assert not Broadcast.objects.exists()


def test_a_csv_column_outside_a_csv_audience_is_refused_on_its_parameter(bob_client: Client, acme: Setup) -> None:
    response = bob_client.post(NEW, _compose(acme, **{"param-2-source": "column", "param-2-value": "seat"}))
    assert response.status_code == 400
    assert response.context["form"].errors["param-2-value"] == [forms_broadcasts.COLUMN_NEEDS_CSV]


def test_attribute_filter_audience_is_parsed_from_lines(bob: Persona, bob_client: Client, acme: Setup) -> None:
    # when
    response = bob_client.post(NEW, _compose(acme, audience_type="filter", filter="city = Berlin\ntier=gold"))
    # then
    assert response.status_code == 302
    with schema_context(bob.company.schema_name):
        broadcast = Broadcast.objects.get()
    assert broadcast.audience == {"type": "filter", "filter": {"city": "Berlin", "tier": "gold"}}
    bad = bob_client.post(NEW, _compose(acme, audience_type="filter", filter="just words"))
    assert bad.status_code == 400
    assert bad.context["form"].errors["filter"] == [forms_broadcasts.FILTER_INVALID]


def test_follow_up_to_those_who_have_not_read_an_earlier_broadcast(
    bob: Persona, bob_client: Client, alice: Persona, acme: Setup
) -> None:
    # given
    earlier = _running(alice, acme, name="First notice")
    page = bob_client.get(NEW).content.decode()
    assert "First notice (" in page
    # when
    response = bob_client.post(
        NEW,
        _compose(
            acme, name="Follow-up", audience_type="broadcast", source_broadcast=str(earlier.public_id), only_unread="on"
        ),
    )
    # then
    assert response.status_code == 302
    with schema_context(bob.company.schema_name):
        follow_up = Broadcast.objects.get(name="Follow-up")
    assert (follow_up.audience["type"], follow_up.audience["broadcast"]) == ("broadcast", earlier.pk)
    assert follow_up.audience["only_unread"] is True
    detail = bob_client.get(response["Location"]).content.decode()
    assert "Recipients of “First notice” who have not read it" in detail


def test_csv_audience_uploads_the_file_and_fills_a_parameter_from_a_column(
    bob: Persona, bob_client: Client, acme: Setup
) -> None:
    # given
    upload = SimpleUploadedFile(
        "passengers.csv", b"phone,seat,opt_in\n+4915200000001,12A,yes\n+4915200000002,3C,yes\nnot-a-phone,1A,yes\n"
    )
    # when
    response = bob_client.post(
        NEW,
        _compose(acme, audience_type="csv", csv_file=upload, **{"param-2-source": "column", "param-2-value": "SEAT"}),
    )
    # then
    assert response.status_code == 302
    with schema_context(bob.company.schema_name):
        broadcast = Broadcast.objects.get()
    assert broadcast.audience["type"] == "csv"
    assert broadcast.template_parameters == ["LH123", {"column": "seat", "default": "traveller"}]
    page = bob_client.get(response["Location"]).content.decode()
    assert '<dd data-dry-run="audience"><strong>2</strong></dd>' in page
    assert "Phone number not valid: 1" in page
    assert "1 line(s) of the CSV file were left out — line 4:" in page
    assert "Recipients of the CSV file “passengers.csv” (2 lines)" in page


def test_a_refused_column_keeps_the_uploaded_file_for_the_next_submit(
    bob: Persona, bob_client: Client, acme: Setup
) -> None:
    # given: the file has no column "gate"
    upload = SimpleUploadedFile("p.csv", b"phone,seat,opt_in\n+4915200000011,12A,yes\n")
    # when
    response = bob_client.post(
        NEW,
        _compose(acme, audience_type="csv", csv_file=upload, **{"param-2-source": "column", "param-2-value": "gate"}),
    )
    # then: the service's reason is on the parameter, the upload is offered again
    assert response.status_code == 400
    errors = response.context["form"].errors["param-2-value"]
    assert "no column 'gate'" in errors[0]
    html = response.content.decode()
    upload_id = response.context["form"].data["upload_id"]
    assert f'value="{upload_id}"' in html
    assert "A CSV file is uploaded already" in html
    # when: the agent fixes the column and submits again without a file
    again = bob_client.post(
        NEW,
        _compose(
            acme, audience_type="csv", upload_id=upload_id, **{"param-2-source": "column", "param-2-value": "seat"}
        ),
    )
    # then
    assert again.status_code == 302
    with schema_context(bob.company.schema_name):
        assert Broadcast.objects.get().audience["upload_id"] == upload_id


def test_a_file_attached_to_an_otherwise_bad_form_is_kept(bob_client: Client, acme: Setup) -> None:
    # given
    upload = SimpleUploadedFile("p.csv", b"phone,seat,opt_in\n+4915200000021,12A,yes\n")
    # when: the name is missing
    response = bob_client.post(NEW, _compose(acme, name="", audience_type="csv", csv_file=upload))
    # then
    assert response.status_code == 400
    assert response.context["form"].errors["name"]
    upload_id = response.context["form"].data["upload_id"]
    assert f'value="{upload_id}"' in response.content.decode()
    again = bob_client.post(NEW, _compose(acme, audience_type="csv", upload_id=upload_id))
    assert again.status_code == 302


def test_a_file_without_one_usable_line_lists_the_lines(bob: Persona, bob_client: Client, acme: Setup) -> None:
    upload = SimpleUploadedFile("p.csv", b"phone,seat\nnot-a-phone,12A\n12,3C\n")
    response = bob_client.post(NEW, _compose(acme, audience_type="csv", csv_file=upload))
    assert response.status_code == 400
    assert response.context["form"].errors["csv_file"] == [views.CSV_NO_LINES]
    html = response.content.decode()
    assert "Line 2:" in html
    assert "Line 3:" in html
    with schema_context(bob.company.schema_name):
        assert not Broadcast.objects.exists()


def test_an_unusable_csv_file_is_a_readable_error(bob_client: Client, acme: Setup) -> None:
    upload = SimpleUploadedFile("p.csv", b"name,seat\nAda,12A\n")
    response = bob_client.post(NEW, _compose(acme, audience_type="csv", csv_file=upload))
    assert response.status_code == 400
    assert response.context["form"].errors["csv_file"]
    assert "phone" in response.context["form"].errors["csv_file"][0].lower()


def test_a_template_no_longer_approved_is_refused_on_the_template_field(
    bob_client: Client, alice: Persona, acme: Setup
) -> None:
    # given: the form was loaded, then the template got paused
    form_data = _compose(acme)
    with schema_context(alice.company.schema_name):
        Template.objects.filter(pk=acme.template.pk).update(status=Template.Status.PAUSED)
    # when
    response = bob_client.post(NEW, form_data)
    # then: no longer offered, so the choice is refused; the values stay
    assert response.status_code == 400
    assert response.context["form"].errors["template"]
    assert 'value="Delay LH123"' in response.content.decode()


def test_follow_up_link_prefills_the_unread_recipients_of_this_broadcast(
    bob_client: Client, alice: Persona, acme: Setup
) -> None:
    # given
    earlier = _running(alice, acme, name="Delay")
    detail = bob_client.get(f"/broadcasts/{earlier.public_id}/").content.decode()
    assert f'href="/broadcasts/new/?follow_up={earlier.public_id}"' in detail
    # when
    html = bob_client.get(NEW, {"follow_up": str(earlier.public_id)}).content.decode()
    # then
    assert 'value="Follow-up: Delay"' in html
    assert 'value="broadcast" id="id_audience_type_3" required checked' in html
    assert f'<option value="{earlier.public_id}" selected>' in html
    assert 'name="only_unread" id="id_only_unread" checked' in html


def test_copy_prefills_the_composer(bob_client: Client, alice: Persona, acme: Setup) -> None:
    broadcast = _draft(alice, acme, name="Original")
    html = bob_client.get(NEW, {"copy": str(broadcast.public_id)}).content.decode()
    assert 'value="Original (copy)"' in html
    assert 'value="LH123"' in html
    assert '<option value="contact" selected>' in html


# --- start, schedule, pause, resume, cancel ------------------------------------------------


def test_start_snapshots_the_audience_and_shows_live_progress(
    bob: Persona, bob_client: Client, alice: Persona, acme: Setup
) -> None:
    # given
    broadcast = _draft(alice, acme)
    # when
    response = bob_client.post(f"/broadcasts/{broadcast.public_id}/start/")
    # then
    assert response.status_code == 302
    with schema_context(bob.company.schema_name):
        broadcast.refresh_from_db()
        assert Delivery.objects.filter(broadcast=broadcast).count() == 2
    assert broadcast.status == Broadcast.Status.RUNNING
    html = bob_client.get(response["Location"]).content.decode()
    assert "is sending." in html
    assert "<strong data-progress-done>0</strong> of <strong>2</strong>" in html
    assert 'data-live="broadcast"' in html
    assert f'hx-get="/broadcasts/{broadcast.public_id}/progress/"' in html
    assert "Pause</button>" in html
    assert "Cancel broadcast</button>" in html
    assert "data-confirm=" in html


def test_a_scheduled_draft_is_scheduled_on_start(bob: Persona, bob_client: Client, acme: Setup) -> None:
    # given
    at = (timezone.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    response = bob_client.post(NEW, _compose(acme, schedule="later", scheduled_at=at.strftime("%Y-%m-%dT%H:%M")))
    detail = response["Location"]
    assert f"Schedule for {at:%Y-%m-%d %H:%M} UTC" in bob_client.get(detail).content.decode()
    # when
    bob_client.post(detail + "start/")
    # then
    with schema_context(bob.company.schema_name):
        broadcast = Broadcast.objects.get()
    assert broadcast.status == Broadcast.Status.SCHEDULED
    assert broadcast.scheduled_at == at
    assert "Scheduled for" in bob_client.get(detail).content.decode()


def test_pause_shows_why_it_stopped_and_resume_runs_it_again(
    bob: Persona, bob_client: Client, alice: Persona, acme: Setup
) -> None:
    # given
    broadcast = _running(alice, acme)
    base = f"/broadcasts/{broadcast.public_id}/"
    # when
    bob_client.post(base + "pause/")
    # then
    html = bob_client.get(base).content.decode()
    with schema_context(bob.company.schema_name):
        broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.PAUSED
    assert "Why it stopped" in html
    assert '<p class="paused-reason">Paused by Bob Agent</p>' in html
    assert "Resume</button>" in html
    # when
    bob_client.post(base + "resume/")
    # then
    with schema_context(bob.company.schema_name):
        broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.RUNNING


def test_a_breaker_pause_reason_is_shown_escaped(bob_client: Client, alice: Persona, acme: Setup) -> None:
    broadcast = _running(alice, acme)
    with schema_context(alice.company.schema_name):
        services.broadcast_pause(broadcast=broadcast, reason="Error 131049 <spike> on 40% of sends")
    html = bob_client.get(f"/broadcasts/{broadcast.public_id}/").content.decode()
    assert '<p class="paused-reason">Error 131049 &lt;spike&gt; on 40% of sends</p>' in html


def test_cancel_skips_the_rest_and_the_page_stops_being_live(
    bob: Persona, bob_client: Client, alice: Persona, acme: Setup
) -> None:
    # given
    broadcast = _running(alice, acme)
    base = f"/broadcasts/{broadcast.public_id}/"
    # when
    response = bob_client.post(base + "cancel/")
    # then
    assert response.status_code == 302
    with schema_context(bob.company.schema_name):
        assert set(Delivery.objects.filter(broadcast=broadcast).values_list("status", flat=True)) == {
            Delivery.Status.SKIPPED
        }
    html = bob_client.get(base).content.decode()
    assert "is cancelled" in html
    assert 'data-live="broadcast"' not in html
    assert "Pause</button>" not in html


def test_an_action_the_state_forbids_is_a_readable_409(bob_client: Client, alice: Persona, acme: Setup) -> None:
    # given
    broadcast = _running(alice, acme)
    with schema_context(alice.company.schema_name):
        services.broadcast_cancel(broadcast=broadcast)
    # when
    response = bob_client.post(f"/broadcasts/{broadcast.public_id}/resume/")
    # then
    assert response.status_code == 409
    assert '<p class="callout callout--error" role="alert">A cancelled broadcast cannot be resumed.</p>' in (
        response.content.decode()
    )
    assert bob_client.post(f"/broadcasts/{broadcast.public_id}/start/").status_code == 409


def test_a_plan_limit_at_start_is_a_readable_402_and_sends_nothing(
    bob_client: Client, alice: Persona, acme: Setup
) -> None:
    # given: more labelled recipients than the free plan takes in one broadcast
    with schema_context(alice.company.schema_name):
        acme.label.contacts.add(*OptedInContactFactory.create_batch(300))
    broadcast = _draft(alice, acme)
    # when
    response = bob_client.post(f"/broadcasts/{broadcast.public_id}/start/")
    # then
    assert response.status_code == 402
    html = response.content.decode()
    assert "This broadcast has 302 recipients" in html
    with schema_context(alice.company.schema_name):
        broadcast.refresh_from_db()
        assert not Delivery.objects.filter(broadcast=broadcast).exists()
    assert broadcast.status == Broadcast.Status.DRAFT


# --- live fragment, counts, failures, recipients --------------------------------------------


def _finish(persona: Persona, broadcast: Broadcast) -> list[Delivery]:
    """Marks the broadcast's deliveries: the first sent and read, the second failed (131026)."""
    with schema_context(persona.company.schema_name):
        rows = list(Delivery.objects.filter(broadcast=broadcast).order_by("id"))
        thread_message = MessageFactory(
            thread=_thread_for(rows[0].contact_id, broadcast.phone_number),
            direction=Message.Direction.OUTBOUND,
            type=Message.Type.TEMPLATE,
            status=Message.Status.READ,
            wamid="=cmd|' /C calc'!A0",
        )
        Delivery.objects.filter(pk=rows[0].pk).update(
            status=Delivery.Status.SENT, message=thread_message, sent_at=timezone.now()
        )
        Delivery.objects.filter(pk=rows[1].pk).update(
            status=Delivery.Status.FAILED, error_code=131026, error_title="Message undeliverable"
        )
        Broadcast.objects.filter(pk=broadcast.pk).update(
            remaining=0, status=Broadcast.Status.COMPLETED, completed_at=timezone.now()
        )
        broadcast.refresh_from_db()
    return rows


def _thread_for(contact_id: int, number: PhoneNumber) -> Any:
    from inbox.tests.factories import ThreadFactory

    return ThreadFactory(contact_id=contact_id, phone_number=number)


def test_fragment_polls_while_running_and_stops_when_final(bob_client: Client, alice: Persona, acme: Setup) -> None:
    # given
    broadcast = _running(alice, acme)
    url = f"/broadcasts/{broadcast.public_id}/progress/"
    # when
    live = bob_client.get(url, {"since": timezone.now().isoformat()}, HTTP_HX_REQUEST="true")
    # then
    assert live.status_code == 200
    html = live.content.decode()
    assert "data-live-cursor=" in html
    assert 'id="broadcast-progress"' in html
    assert 'id="broadcast-actions"' in html
    assert "Send rate:" in html
    # when: it completes
    _finish(alice, broadcast)
    final = bob_client.get(url, HTTP_HX_REQUEST="true")
    # then: 286 tells htmx to stop polling; the answer still shows the final state
    assert final.status_code == views.STOP_POLLING == 286
    assert 'class="bstatus bstatus--completed">Completed<' in final.content.decode()
    assert "Live ·" not in final.content.decode()


def test_detail_counts_each_recipient_once_and_groups_failures_by_code(
    bob_client: Client, alice: Persona, acme: Setup, django_assert_max_num_queries: Any
) -> None:
    # given
    broadcast = _running(alice, acme)
    _finish(alice, broadcast)
    # when
    with django_assert_max_num_queries(10):
        html = bob_client.get(f"/broadcasts/{broadcast.public_id}/").content.decode()
    # then
    assert '<dd data-count="read">1</dd>' in html
    assert '<dd data-count="failed">1</dd>' in html
    assert '<dd data-count="sent">0</dd>' in html
    assert "<strong data-progress-done>2</strong> of <strong>2</strong>" in html
    assert "<code>131026</code>" in html
    assert "The customer cannot receive it" in html
    assert 'data-live="broadcast"' not in html


def test_recipient_table_filters_by_status_and_pages_with_after(
    bob_client: Client, alice: Persona, acme: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setattr(views, "RECIPIENTS_PAGE_SIZE", 1)
    broadcast = _running(alice, acme)
    rows = _finish(alice, broadcast)
    base = f"/broadcasts/{broadcast.public_id}/"
    # when
    first = bob_client.get(base).content.decode()
    second = bob_client.get(base, {"after": rows[0].pk}).content.decode()
    failed = bob_client.get(base, {"status": "failed"}).content.decode()
    # then
    assert "VIP 0" in first
    assert "VIP 1" not in first
    assert f'href="?after={rows[0].pk}#recipients" rel="next"' in first
    assert "VIP 1" in second
    assert "VIP 0" not in second
    assert "VIP 1" in failed
    assert "VIP 0" not in failed
    assert "Message undeliverable" in failed


# --- CSV export -----------------------------------------------------------------------------


def test_export_streams_every_recipient_with_formulas_guarded(
    bob_client: Client, alice: Persona, acme: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: names a spreadsheet would run as formulas, and pages of one row
    monkeypatch.setattr(views, "EXPORT_BATCH", 2)
    with schema_context(alice.company.schema_name):
        Contact.objects.filter(pk=acme.vip[0].pk).update(name='=HYPERLINK("http://evil","x")')
        Contact.objects.filter(pk=acme.vip[1].pk).update(name="@SUM(1+1)")
        more = [OptedInContactFactory(name=f"Extra {i}") for i in range(3)]
        for contact in more:
            contact.labels.add(acme.label)
    broadcast = _running(alice, acme, name="Delay: LH123 / ü")
    _finish(alice, broadcast)
    # when
    response = bob_client.get(f"/broadcasts/{broadcast.public_id}/export.csv")
    # then
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="broadcast-delay-lh123-')
    assert disposition.endswith('.csv"')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == views.EXPORT_COLUMNS
    assert len(rows) == 1 + 5
    by_phone = {row[0]: row for row in rows[1:]}
    first = by_phone[acme.vip[0].phone]
    assert first[1] == '\'=HYPERLINK("http://evil","x")'
    assert first[2:5] == ["read", "sent", "read"]
    assert first[8] == "'=cmd|' /C calc'!A0"
    assert first[9].endswith("Z")
    second = by_phone[acme.vip[1].phone]
    assert second[1] == "'@SUM(1+1)"
    assert second[2:8] == ["failed", "failed", "", "131026", "Message undeliverable", ""]
    assert {row[2] for row in rows[3:]} == {"queued"}


def test_csv_cell_guards_every_formula_start() -> None:
    for text in ("=1", "+1", "-1", "@x", "\tx", "\rx"):
        assert views.csv_cell(text) == "'" + text
    assert views.csv_cell("Ada") == "Ada"
    assert views.csv_cell(None) == ""


# --- progress reads behind the live fragment -------------------------------------------------


def test_send_rate_is_measured_over_the_last_seconds(alice: Persona, acme: Setup) -> None:
    # given: a running broadcast of 2, looked at now and 2 s later with one more done
    broadcast = _running(alice, acme)
    now = timezone.now()
    with schema_context(alice.company.schema_name):
        first = broadcast_selectors.broadcast_send_rate(broadcast=broadcast, now=now)
        broadcast.remaining = 1
        later = broadcast_selectors.broadcast_send_rate(broadcast=broadcast, now=now + timedelta(seconds=2))
    # then: nothing to compare with at first (just started), then 1 recipient in 2 s
    assert first is None
    assert later == pytest.approx(0.5)


def test_large_broadcasts_reuse_their_counts_for_a_few_seconds(
    alice: Persona, acme: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    monkeypatch.setattr(broadcast_selectors, "COUNTS_CACHE_FROM", 1)
    broadcast = _running(alice, acme)
    with schema_context(alice.company.schema_name):
        before = broadcast_selectors.broadcast_counts_cached(broadcast=broadcast)
        Delivery.objects.filter(broadcast=broadcast).update(status=Delivery.Status.SKIPPED)
        # when
        cached = broadcast_selectors.broadcast_counts_cached(broadcast=broadcast)
        services.broadcast_cancel(broadcast=broadcast)
        broadcast.refresh_from_db()
        final = broadcast_selectors.broadcast_counts_cached(broadcast=broadcast)
    # then: the same numbers while running; a final broadcast is counted afresh
    assert cached == before
    assert before["queued"] == 2
    assert final["skipped"] == 2
