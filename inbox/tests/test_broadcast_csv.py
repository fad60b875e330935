"""CSV audiences: importing a file (inbox.services.uploads), consent from its `opt_in` column,
and a CSV broadcast end to end with per-recipient parameters (snapshot, chunk, message body).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from conftest import Persona
from inbox import broadcast_selectors as selectors
from inbox.models import AudienceUpload, AudienceUploadRow, Broadcast, ConsentEvent, Contact, Delivery, Message
from inbox.providers import bulk
from inbox.providers.bulk import BulkItem, _item_body
from inbox.services import broadcasts, contacts, uploads
from inbox.tests.factories import ContactFactory, PhoneNumberFactory, TemplateFactory
from inbox.tests.factories_broadcasts import MarketingTemplateFactory, OptedInContactFactory
from inbox.tests.provider_stub import ProviderStub

ADA, BOB, CY, DEE = "+4915111111101", "+4915111111102", "+4915111111103", "+4915111111104"


@pytest.fixture(autouse=True)
def _fast_limits(settings: Any) -> None:
    settings.WHATSAPP_API_BASE = ""
    settings.BROADCAST_NUMBER_RATE = 100_000
    settings.BROADCAST_CHUNK_SIZE = 50


def _csv(text: str, name: str = "passengers.csv", *, encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def _run_all(broadcast: Broadcast) -> Broadcast:
    """Sends every chunk of a started broadcast in this process (what the chunk tasks do)."""
    broadcast.refresh_from_db()
    size = broadcasts.conf("BROADCAST_CHUNK_SIZE")
    lo = broadcast.first_delivery_id
    while lo is not None and lo <= broadcast.last_delivery_id:
        broadcasts.broadcast_chunk_send(
            **json.loads(json.dumps({"broadcast_id": broadcast.pk, "lo": lo, "hi": lo + size}))
        )
        lo += size
    broadcast.refresh_from_db()
    return broadcast


def _csv_broadcast(upload: AudienceUpload, parameters: Any, **kwargs: Any) -> Broadcast:
    return broadcasts.broadcast_create(
        name="Flight LH 123 delayed",
        template=kwargs.pop("template", None) or TemplateFactory(body="Hello {{1}}, your seat {{2}} is kept."),
        phone_number=PhoneNumberFactory(),
        audience={"type": "csv", "upload_id": str(upload.public_id)},
        template_parameters=parameters,
        **kwargs,
    )


# --- the file ----------------------------------------------------------------------------------


def test_imports_every_line_with_its_variables(tenant_a: object, alice: Persona) -> None:
    # given
    existing = ContactFactory(phone=BOB, name="Bob Known", opted_in=True)
    file = _csv(f"phone,name,seat\n{ADA},Ada,12A\n0049 151 11111102,Robert,14C\n")
    # when
    result = uploads.upload_create(file=file, created_by=alice.user)
    # then
    assert (result.rows, result.errors, result.error_count) == (2, [], 0)
    upload = result.upload
    assert upload is not None
    assert (upload.original_name, upload.columns, upload.rows_accepted) == ("passengers.csv", ["name", "seat"], 2)
    rows = list(
        AudienceUploadRow.objects.filter(upload=upload).order_by("line").values_list("line", "phone", "variables")
    )
    assert rows == [(2, ADA, {"name": "Ada", "seat": "12A"}), (3, BOB, {"name": "Robert", "seat": "14C"})]
    ada = Contact.objects.get(phone=ADA)
    assert (ada.name, ada.opted_in, ada.opted_out) == ("Ada", False, False)  # a CSV is not consent
    existing.refresh_from_db()
    assert existing.name == "Bob Known"  # matched by phone, never renamed
    assert AudienceUploadRow.objects.get(upload=upload, phone=BOB).contact_id == existing.pk


def test_reads_semicolons_a_byte_order_mark_and_any_case_of_phone(tenant_a: object) -> None:
    # given: what Excel writes in many locales
    file = _csv(f'\ufeffPHONE;Sitz;Gate\r\n{ADA};3F;B12\r\n\r\n{BOB};"4,A";B12\r\n')
    # when
    result = uploads.upload_create(file=file, created_by=None)
    # then
    assert (result.rows, result.errors) == (2, [])
    assert result.upload is not None
    assert result.upload.columns == ["Sitz", "Gate"]
    assert AudienceUploadRow.objects.get(phone=BOB).variables == {"Sitz": "4,A", "Gate": "B12"}


def test_reports_bad_lines_with_their_numbers_and_keeps_the_rest(tenant_a: object) -> None:
    # given
    file = _csv(
        "phone,seat,opt_in\n"
        f"{ADA},1A,yes\n"  # 2 ok
        "12345,1B,\n"  # 3 not a phone
        f"{ADA.replace('+', '00')},1C,\n"  # 4 same phone as line 2
        f"{BOB},1D\n"  # 5 a field short
        f"{CY},1E,maybe\n"  # 6 bad opt_in
        ",1F,\n"  # 7 no phone
        f"{DEE},1G,no\n"  # 8 ok
    )
    # when
    result = uploads.upload_create(file=file, created_by=None)
    # then
    assert result.rows == 2
    assert result.errors == [
        {"line": 3, "message": uploads.LINE_BAD_PHONE.format(value="12345")},
        {"line": 4, "message": uploads.LINE_DUPLICATE.format(phone=ADA, first=2)},
        {"line": 5, "message": uploads.LINE_FIELDS.format(found=2, expected=3)},
        {"line": 6, "message": uploads.LINE_OPT_IN.format(value="maybe")},
        {"line": 7, "message": uploads.LINE_NO_PHONE},
    ]
    upload = result.upload
    assert upload is not None
    assert (upload.error_count, upload.invalid_phone_count, upload.duplicate_count) == (5, 2, 1)
    assert upload.errors == result.errors
    assert sorted(AudienceUploadRow.objects.filter(upload=upload).values_list("line", flat=True)) == [2, 8]
    assert not Contact.objects.filter(phone__in=[BOB, CY]).exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", uploads.FILE_EMPTY),
        (b"\n\n  \n", uploads.FILE_EMPTY),
        (b"phone,seat\n", uploads.FILE_NO_ROWS),
        (b"mobile,seat\n+4915111111101,1A\n", uploads.HEADER_NO_PHONE),
        (b"phone,seat,Seat\n+4915111111101,1A,1B\n", uploads.HEADER_DUPLICATE.format(name="Seat")),
        (b"phone,,seat\n+4915111111101,x,1A\n", uploads.HEADER_BLANK.format(index=2)),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", uploads.FILE_NOT_CSV),
        ("phone,name\n+4915111111101,Zoë\n".encode("latin-1"), uploads.FILE_NOT_TEXT),
    ],
    ids=[
        "empty",
        "blank-lines",
        "header-only",
        "no-phone-column",
        "duplicate-column",
        "blank-column",
        "png",
        "latin-1",
    ],
)
def test_refuses_a_file_that_cannot_be_used_and_stores_nothing(tenant_a: object, content: bytes, message: str) -> None:
    # given
    file = SimpleUploadedFile("list.csv", content, content_type="text/csv")
    # when
    with pytest.raises(ValidationError) as refused:
        uploads.upload_create(file=file, created_by=None)
    # then
    assert refused.value.message_dict == {"file": [message]}
    assert not AudienceUpload.objects.exists()
    assert not Contact.objects.exists()


def test_refuses_a_file_over_the_size_limit(tenant_a: object, settings: Any) -> None:
    # given
    settings.AUDIENCE_UPLOAD_MAX_BYTES = 1024 * 1024
    file = _csv("phone\n" + f"{ADA}\n" * 80_000)
    # when
    with pytest.raises(uploads.UploadTooLargeError) as refused:
        uploads.upload_create(file=file, created_by=None)
    # then
    assert refused.value.message_dict == {"file": [uploads.FILE_TOO_LARGE.format(limit=1)]}
    assert not AudienceUpload.objects.exists()


def test_a_file_over_the_line_limit_imports_nothing(tenant_a: object, settings: Any) -> None:
    # given: the limit is only found out after two lines went into the database
    settings.AUDIENCE_UPLOAD_MAX_ROWS = 2
    file = _csv(f"phone,opt_in\n{ADA},yes\n{BOB},yes\n{CY},yes\n")
    # when
    with pytest.raises(uploads.UploadTooLargeError) as refused:
        uploads.upload_create(file=file, created_by=None)
    # then: nothing half-imported
    assert refused.value.message_dict == {"file": [uploads.FILE_TOO_MANY_ROWS.format(limit=2)]}
    assert not AudienceUpload.objects.exists()
    assert not AudienceUploadRow.objects.exists()
    assert not Contact.objects.exists()
    assert not ConsentEvent.objects.exists()


def test_a_file_without_one_usable_line_stores_nothing(tenant_a: object) -> None:
    # when
    result = uploads.upload_create(file=_csv("phone,seat\nnope,1A\n12,1B\n"), created_by=None)
    # then
    assert (result.upload, result.rows, result.error_count) == (None, 0, 2)
    assert [e["line"] for e in result.errors] == [2, 3]
    assert not AudienceUpload.objects.exists()
    assert not Contact.objects.exists()


def test_keeps_the_first_thousand_errors_and_counts_them_all(tenant_a: object) -> None:
    # given: a repeat on line 3, then 1,500 unusable lines, then 599 more repeats
    lines = ["phone", ADA, ADA] + [f"x{i}" for i in range(1500)] + [ADA] * 599
    # when
    result = uploads.upload_create(file=_csv("\n".join(lines) + "\n"), created_by=None)
    # then: the first thousand by line, whichever check refused them
    assert result.rows == 1
    assert result.error_count == 2100
    assert len(result.errors) == uploads.MAX_ERRORS_KEPT
    assert [e["line"] for e in result.errors] == list(range(3, 1003))
    assert result.errors[0]["message"] == uploads.LINE_DUPLICATE.format(phone=ADA, first=2)
    assert result.upload is not None
    assert (result.upload.duplicate_count, result.upload.invalid_phone_count) == (600, 1500)


# --- consent ----------------------------------------------------------------------------------


def test_opt_in_column_records_consent_but_never_over_an_opt_out(tenant_a: object, alice: Persona) -> None:
    # given
    stopped = ContactFactory(phone=BOB)
    contacts.consent_record(contact=stopped, action="opt_out", source="keyword", detail="STOP")
    no_marketing = ContactFactory(phone=CY)
    contacts.consent_record(contact=no_marketing, action="opt_out", purpose="marketing", source="agent")
    already = OptedInContactFactory(phone=DEE)
    file = _csv(f"phone,opt_in\n{ADA},Yes\n{BOB},true\n{CY},1\n{DEE},yes\n+4915111111105,\n")
    # when
    result = uploads.upload_create(file=file, created_by=alice.user)
    # then: only the new contact without any opt-out on record is opted in
    assert result.upload is not None
    assert result.upload.opt_ins_recorded == 1
    ada = Contact.objects.get(phone=ADA)
    assert (ada.opted_in, ada.opted_out, ada.marketing_opted_out) == (True, False, False)
    event = ConsentEvent.objects.get(contact=ada)
    assert (event.action, event.purpose, event.source, event.recorded_by_id) == ("opt_in", "all", "csv", alice.user.pk)
    assert str(result.upload.public_id) in event.detail
    assert event.detail.endswith("line 2")
    stopped.refresh_from_db()
    no_marketing.refresh_from_db()
    assert (stopped.opted_in, stopped.opted_out) == (False, True)
    assert (no_marketing.opted_in, no_marketing.marketing_opted_out) == (False, True)
    assert ConsentEvent.objects.filter(source="csv").count() == 1
    assert not ConsentEvent.objects.filter(contact=already, source="csv").exists()
    assert Contact.objects.get(phone="+4915111111105").opted_in is False


# --- the CSV audience -----------------------------------------------------------------------


def test_dry_run_counts_the_csv_audience_and_its_exclusions(tenant_a: object) -> None:
    # given
    OptedInContactFactory(phone=ADA)
    ContactFactory(phone=BOB, opted_in=True, opted_out=True)
    OptedInContactFactory(phone=DEE, marketing_opted_out=True)
    OptedInContactFactory()  # not in the file
    file = _csv(f"phone,seat\n{ADA},1A\n{BOB},1B\n{CY},1C\n{DEE},1D\nnope,1E\n{ADA},1F\n")
    upload = uploads.upload_create(file=file, created_by=None).upload
    assert upload is not None
    broadcast = _csv_broadcast(upload, [{"column": "seat"}, "x"], template=MarketingTemplateFactory())
    # when
    result = broadcasts.broadcast_dry_run(broadcast=broadcast)
    # then
    assert result["audience"] == 1
    assert result["excluded"] == {
        "opted_out": 1,
        "not_opted_in": 1,
        "marketing_opted_out": 1,
        "invalid_phone": 1,
        "duplicate": 1,
    }


def test_csv_broadcast_sends_each_recipient_their_own_values(tenant_a: object) -> None:
    # given: two opted-in passengers, one opted out, one without consent
    OptedInContactFactory(phone=ADA, name="Ada Lovelace")
    OptedInContactFactory(phone=BOB, name="")
    ContactFactory(phone=CY, opted_in=True, opted_out=True)
    file = _csv(f"phone,first name,seat\n{ADA},Ada,12A\n{BOB},Bob,\n{CY},Cy,3C\n{DEE},Dee,4D\n")
    upload = uploads.upload_create(file=file, created_by=None).upload
    assert upload is not None
    broadcast = _csv_broadcast(upload, [{"column": "First Name"}, {"column": "seat", "default": "to be assigned"}])
    # when
    broadcast = broadcasts.broadcast_start(broadcast=broadcast)
    broadcast = _run_all(broadcast)
    # then
    assert broadcast.status == Broadcast.Status.COMPLETED
    assert broadcast.template_parameters == [{"column": "first name"}, {"column": "seat", "default": "to be assigned"}]
    sent = {
        m.thread.contact.phone: m
        for m in Message.objects.select_related("thread__contact").filter(direction="outbound")
    }
    assert set(sent) == {ADA, BOB}
    assert sent[ADA].text == "Hello Ada, your seat 12A is kept."
    assert sent[BOB].text == "Hello Bob, your seat to be assigned is kept."
    assert sent[ADA].template_parameters == ["Ada", "12A"]
    assert sent[ADA].thread.last_message_preview == "Hello Ada, your seat 12A is kept."
    deliveries = Delivery.objects.filter(broadcast=broadcast).order_by("id")
    assert [d.contact.phone for d in deliveries] == [ADA, BOB]  # file order
    assert selectors.broadcast_counts(broadcast=broadcast)["sent"] == 2


def test_contact_fields_and_attributes_fill_parameters_of_any_audience(tenant_a: object) -> None:
    # given
    OptedInContactFactory(phone=ADA, name="Ada", attributes={"order": "A-77"})
    OptedInContactFactory(phone=BOB, name="", profile_name="Bobby", attributes={})
    broadcast = broadcasts.broadcast_create(
        name="Shipping",
        template=TemplateFactory(body="Hello {{name}}, order {{order}} for {{phone}}."),
        phone_number=PhoneNumberFactory(),
        audience={"type": "all"},
        template_parameters={
            "name": {"contact": "name"},
            "order": {"contact": "order", "default": "(none)"},
            "phone": {"contact": "phone"},
        },
    )
    # when
    _run_all(broadcasts.broadcast_start(broadcast=broadcast))
    # then
    texts = sorted(Message.objects.filter(direction="outbound").values_list("text", flat=True))
    assert texts == [f"Hello Ada, order A-77 for {ADA}.", f"Hello Bobby, order (none) for {BOB}."]
    bob = Message.objects.get(thread__contact__phone=BOB)
    assert bob.template_parameters == {"name": "Bobby", "order": "(none)", "phone": BOB}


def test_fixed_parameters_keep_one_body_for_everyone(tenant_a: object) -> None:
    # given
    OptedInContactFactory.create_batch(2)
    broadcast = broadcasts.broadcast_create(
        name="Fixed",
        template=TemplateFactory(),
        phone_number=PhoneNumberFactory(),
        audience={"type": "all"},
        template_parameters=["Ada", "A-1"],
    )
    # when
    broadcast = broadcasts.broadcast_start(broadcast=broadcast)
    # then
    assert list(Delivery.objects.filter(broadcast=broadcast).values_list("parameters", flat=True)) == [None, None]


@pytest.fixture
def provider(settings: Any) -> Iterator[ProviderStub]:
    with ProviderStub.running() as running:
        settings.WHATSAPP_API_BASE = running.base_url
        settings.WHATSAPP_API_VERSION = "v25.0"
        yield running
    # The process's HTTP sender keeps its session open for the next chunk: close it here,
    # on its own loop, so it does not outlive the test.
    sender = bulk._senders.get("cloud")
    session = getattr(sender, "_session", None)
    if sender is not None and sender._loop is not None and session is not None:
        asyncio.run_coroutine_threadsafe(session.close(), sender._loop).result(timeout=5)


def test_each_request_to_the_provider_carries_the_recipients_own_parameters(
    tenant_a: object, provider: ProviderStub
) -> None:
    # given
    OptedInContactFactory(phone=ADA)
    OptedInContactFactory(phone=BOB)
    upload = uploads.upload_create(file=_csv(f"phone,seat\n{ADA},12A\n{BOB},14C\n"), created_by=None).upload
    assert upload is not None
    broadcast = _csv_broadcast(upload, ["friend", {"column": "seat"}])
    # when
    _run_all(broadcasts.broadcast_start(broadcast=broadcast))
    # then
    bodies = {send.json()["to"]: send.json() for send in provider.sends()}
    assert set(bodies) == {ADA, BOB}
    for phone, seat in ((ADA, "12A"), (BOB, "14C")):
        components = bodies[phone]["template"]["components"]
        assert components == [
            {"type": "body", "parameters": [{"type": "text", "text": "friend"}, {"type": "text", "text": seat}]}
        ]
        assert bodies[phone]["biz_opaque_callback_data"] == str(
            Message.objects.get(thread__contact__phone=phone).public_id
        )


def test_a_recipients_own_body_keeps_the_other_components() -> None:
    # given: a body with a URL button component (the verify link)
    template = {
        "messaging_product": "whatsapp",
        "type": "template",
        "template": {
            "name": "t",
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "{'column': 'seat'}"}]},
                {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "tok"}]},
            ],
        },
    }
    item = BulkItem(1, ADA, "cb", [{"type": "text", "text": "12A"}])
    # when
    body = json.loads(_item_body(template, item))
    # then
    assert body["to"] == ADA
    assert body["biz_opaque_callback_data"] == "cb"
    assert body["template"]["components"] == [
        {"type": "body", "parameters": [{"type": "text", "text": "12A"}]},
        {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "tok"}]},
    ]
    assert template["template"]["components"][0]["parameters"][0]["text"] == "{'column': 'seat'}"  # untouched


# --- create: what the services refuse -------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ([{"column": "gate"}], broadcasts.COLUMN_UNKNOWN.format(key="1", name="gate", columns="seat")),
        ([{"contact": "name", "column": "seat"}], broadcasts.PARAMETER_INVALID.format(key="1")),
        ([{"field": "name"}], broadcasts.PARAMETER_INVALID.format(key="1")),
        ([{"contact": ""}], broadcasts.PARAMETER_INVALID.format(key="1")),
        (["ok", {"contact": "name", "default": 3}], broadcasts.PARAMETER_INVALID.format(key="2")),
        ({"seat": ["a"]}, broadcasts.PARAMETER_INVALID.format(key="seat")),
        ("seat", broadcasts.PARAMETERS_INVALID),
    ],
    ids=["unknown-column", "two-sources", "unknown-key", "blank-name", "default-not-text", "list-value", "not-a-list"],
)
def test_refuses_parameters_it_cannot_fill(tenant_a: object, parameters: Any, message: str) -> None:
    # given
    upload = uploads.upload_create(file=_csv(f"phone,seat\n{ADA},1A\n"), created_by=None).upload
    assert upload is not None
    # when
    with pytest.raises(ValidationError) as refused:
        _csv_broadcast(upload, parameters)
    # then
    assert refused.value.message_dict == {"parameters": [message]}


def test_a_csv_column_needs_a_csv_audience(tenant_a: object) -> None:
    with pytest.raises(ValidationError) as refused:
        broadcasts.broadcast_create(
            name="x",
            template=TemplateFactory(),
            phone_number=PhoneNumberFactory(),
            audience={"type": "all"},
            template_parameters=[{"column": "seat"}, "x"],
        )
    assert refused.value.message_dict == {"parameters": [broadcasts.COLUMN_NEEDS_CSV.format(key="1")]}


@pytest.mark.parametrize("upload_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", None])
def test_refuses_an_unknown_upload(tenant_a: object, upload_id: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        broadcasts.broadcast_create(
            name="x",
            template=TemplateFactory(),
            phone_number=PhoneNumberFactory(),
            audience={"type": "csv", "upload_id": upload_id},
        )
    assert refused.value.message_dict == {"audience": [broadcasts.UPLOAD_UNKNOWN]}


def test_a_recipient_skipped_at_claim_keeps_no_personal_parameters(tenant_a: object) -> None:
    # given: personal parameters resolved by the snapshot, then Bob opts out before his chunk
    OptedInContactFactory(phone=ADA, name="Ada")
    bob = OptedInContactFactory(phone=BOB, name="Bob")
    broadcast = broadcasts.broadcast_create(
        name="Shipping", template=TemplateFactory(body="Hello {{name}}."), phone_number=PhoneNumberFactory(),
        audience={"type": "all"}, template_parameters={"name": {"contact": "name"}},
    )  # fmt: skip
    broadcast = broadcasts.broadcast_start(broadcast=broadcast)
    assert Delivery.objects.get(broadcast=broadcast, contact=bob).parameters == {"name": "Bob"}
    contacts.consent_record(contact=bob, action="opt_out", source="keyword", detail="STOP")
    # when
    _run_all(broadcast)
    # then
    skipped = Delivery.objects.get(broadcast=broadcast, contact=bob)
    assert (skipped.status, skipped.skip_reason, skipped.parameters) == (Delivery.Status.SKIPPED, "opted_out", None)
    assert Delivery.objects.get(broadcast=broadcast, contact__phone=ADA).parameters == {"name": "Ada"}
