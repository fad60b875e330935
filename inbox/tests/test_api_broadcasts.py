"""`/api/v1/broadcasts/…` (design/API.md "Broadcasts"): create with Idempotency-Key, list,
read, dry run, start/pause/resume/cancel, recipients, and `broadcast.completed`."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import schema_context

from inbox import broadcast_selectors
from inbox.api import broadcasts as broadcast_api
from inbox.models import Broadcast, Delivery, Message, PhoneNumber, Template, WebhookEvent
from inbox.services import broadcasts, contacts, messages, numbers
from inbox.tests.api_helpers import Call, get, post_json, post_with
from inbox.tests.factories import ContactFactory, LabelFactory, TemplateFactory
from inbox.tests.factories_broadcasts import BroadcastFactory, OptedInContactFactory
from inbox.tests.factories_webhooks import WebhookSubscriptionFactory
from tenants.inbound import StatusUpdate
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]
ADA, BOB, CY = "+4915111111101", "+4915111111102", "+4915111111103"
COUNT_KEYS = {"total", "queued", "sending", "sent", "delivered", "read", "failed", "skipped"}


@pytest.fixture(autouse=True)
def _fast_limits(settings: Any) -> None:
    settings.WHATSAPP_API_BASE = ""
    settings.BROADCAST_NUMBER_RATE = 100_000
    settings.BROADCAST_CHUNK_SIZE = 2


@pytest.fixture
def template_a(tenant_a: Company) -> Template:
    return TemplateFactory(name="flight_delay", language="en", body="Hello {{1}}, flight {{2}} is delayed.")


def _body(**changes: Any) -> dict[str, Any]:
    return {
        "name": "LH 123 delayed",
        "template": {"name": "flight_delay", "language": "en"},
        "parameters": [{"contact": "name", "default": "traveller"}, "LH 123"],
        "audience": {"type": "all"},
        **changes,
    }


def _create(client: Client, **changes: Any) -> Any:
    response = post_json(client, "/api/v1/broadcasts/", _body(**changes))
    assert response.status_code == 201, response.content
    return response.json()


def _run_all(public_id: str) -> None:
    """Sends every chunk of a started broadcast in this process (what the chunk tasks do)."""
    broadcast = Broadcast.objects.get(public_id=public_id)
    size = broadcasts.conf("BROADCAST_CHUNK_SIZE")
    lo = broadcast.first_delivery_id
    while lo is not None and lo <= broadcast.last_delivery_id:
        broadcasts.broadcast_chunk_send(broadcast_id=broadcast.pk, lo=lo, hi=lo + size)
        lo += size


@pytest.fixture
def ready_a(tenant_a: Company, connected_number_a: PhoneNumber, template_a: Template) -> PhoneNumber:
    """Company A can broadcast: a connected number and an approved template."""
    return connected_number_a


# --- create -------------------------------------------------------------------------------------


def test_creates_a_draft(ready_a: PhoneNumber, api_a: Client, in_a: InA) -> None:
    # when
    response = post_json(api_a, "/api/v1/broadcasts/", _body(scheduled_at="2030-01-01T08:00:00Z"))
    # then
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "draft"
    assert body["counts"] == dict.fromkeys(COUNT_KEYS, 0)
    assert body["from"] == str(ready_a.public_id)
    assert body["template"]["name"] == "flight_delay"
    assert body["audience"] == {"type": "all"}
    assert body["parameters"] == [{"contact": "name", "default": "traveller"}, "LH 123"]
    assert (body["scheduled_at"], body["started_at"], body["completed_at"]) == ("2030-01-01T08:00:00Z", None, None)
    with in_a():
        assert Broadcast.objects.get(public_id=body["id"]).status == Broadcast.Status.DRAFT


def test_broadcast_object_has_the_documented_fields(ready_a: PhoneNumber, api_a: Client) -> None:
    # when
    body = _create(api_a)
    # then
    assert set(body) == set(broadcast_api.BroadcastObject().fields)
    assert set(body["counts"]) == COUNT_KEYS


def test_creates_with_each_audience_type(ready_a: PhoneNumber, api_a: Client, in_a: InA) -> None:
    # given
    with in_a():
        LabelFactory(name="vip")
        source = BroadcastFactory(phone_number=ready_a)
    upload_id = api_a.post(
        "/api/v1/uploads/", {"file": SimpleUploadedFile("a.csv", f"phone,seat\n{ADA},1A\n".encode())}
    ).json()["id"]
    audiences = [
        {"type": "labels", "labels": ["vip"]},
        {"type": "filter", "filter": {"city": "Berlin"}},
        {"type": "csv", "upload_id": upload_id},
        {"type": "broadcast", "broadcast": str(source.public_id), "only_unread": True},
    ]
    # when
    bodies = [_create(api_a, audience=audience) for audience in audiences]
    # then
    assert [b["audience"] for b in bodies] == [
        {"type": "labels", "labels": ["vip"]},
        {"type": "filter", "filter": {"city": "Berlin"}},
        {"type": "csv", "upload_id": upload_id},
        {"type": "broadcast", "broadcast": str(source.public_id), "only_unread": True},
    ]


def test_from_chooses_the_number(api_b: Client, company_b: Company) -> None:
    # given: charlie's plan allows two numbers
    with schema_context(company_b.schema_name):
        TemplateFactory(name="flight_delay", language="en")
    first = _connect(company_b, "770000000000301", "+44 20 7946 0958")
    second = _connect(company_b, "770000000000302", "+44 20 7946 0959")
    # when
    default = _create(api_b)
    chosen = _create(api_b, **{"from": str(second.public_id)})
    # then
    assert (default["from"], chosen["from"]) == (str(first.public_id), str(second.public_id))


def _connect(company: Company, phone_number_id: str, display: str) -> PhoneNumber:
    return numbers.phone_number_connect(
        company=company, phone_number_id=phone_number_id, display_number=display, access_token="t"
    )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "This field may not be blank."),
        ({"template": {"name": "nope", "language": "en"}}, "template", None),
        ({"audience": {"type": "everyone"}}, "audience.type", None),
        ({"audience": {"type": "labels"}}, "audience.labels", None),
        (
            {"audience": {"type": "labels", "labels": ["ghost"]}},
            "audience",
            broadcasts.LABEL_UNKNOWN.format(name="ghost"),
        ),
        ({"audience": {"type": "csv"}}, "audience.upload_id", None),
        (
            {"audience": {"type": "csv", "upload_id": "00000000-0000-0000-0000-000000000000"}},
            "audience",
            broadcasts.UPLOAD_UNKNOWN,
        ),
        (
            {"audience": {"type": "broadcast", "broadcast": "00000000-0000-0000-0000-000000000000"}},
            "audience",
            broadcasts.SOURCE_UNKNOWN,
        ),
        ({"parameters": "Ada"}, "parameters", "Give a list or an object."),
        ({"parameters": [{"column": "seat"}]}, "parameters", broadcasts.COLUMN_NEEDS_CSV.format(key="1")),
        ({"from": "00000000-0000-0000-0000-000000000000"}, "from", broadcast_api.FROM_UNKNOWN),
        ({"scheduled_at": "tomorrow"}, "scheduled_at", None),
    ],
    ids=[
        "blank-name",
        "unknown-template",
        "unknown-audience-type",
        "labels-missing",
        "unknown-label",
        "upload-missing",
        "unknown-upload",
        "unknown-source-broadcast",
        "parameters-not-list",
        "column-without-csv",
        "unknown-from",
        "bad-time",
    ],
)
def test_refuses_an_invalid_broadcast(
    ready_a: PhoneNumber, api_a: Client, in_a: InA, changes: dict[str, Any], field: str, message: str | None
) -> None:
    # when
    response = post_json(api_a, "/api/v1/broadcasts/", _body(**changes))
    # then
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert list(error["details"]) == [field]
    if message is not None:
        assert error["details"][field] == [message]
    with in_a():
        assert not Broadcast.objects.exists()


def test_an_unapproved_template_is_a_conflict(ready_a: PhoneNumber, api_a: Client, template_a: Template) -> None:
    # given
    with schema_context("acme"):
        Template.objects.filter(pk=template_a.pk).update(status=Template.Status.PENDING)
    # when
    response = post_json(api_a, "/api/v1/broadcasts/", _body())
    # then
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_without_a_connected_number_is_a_conflict(template_a: Template, api_a: Client) -> None:
    # when
    response = post_json(api_a, "/api/v1/broadcasts/", _body())
    # then
    assert response.status_code == 409
    assert response.json()["error"]["message"] == broadcast_api.NO_NUMBER


def test_idempotency_key_replays_the_first_broadcast(ready_a: PhoneNumber, api_a: Client, in_a: InA) -> None:
    # given
    first = post_json(api_a, "/api/v1/broadcasts/", _body(), key="campaign-7")
    # when
    again = post_json(api_a, "/api/v1/broadcasts/", _body(), key="campaign-7")
    other = post_json(api_a, "/api/v1/broadcasts/", _body(name="Another"), key="campaign-7")
    # then
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_mismatch"
    with in_a():
        assert Broadcast.objects.count() == 1


# --- list, read -------------------------------------------------------------------------------


def test_lists_newest_first_in_cursor_pages(ready_a: PhoneNumber, api_a: Client) -> None:
    # given
    older, newer = _create(api_a, name="older"), _create(api_a, name="newer")
    # when
    first = api_a.get("/api/v1/broadcasts/", {"page_size": 1}).json()
    second = api_a.get(first["next"]).json()
    # then
    assert [b["id"] for b in first["results"]] == [newer["id"]]
    assert [b["id"] for b in second["results"]] == [older["id"]]
    assert second["next"] is None


def test_lists_by_status(ready_a: PhoneNumber, api_a: Client, in_a: InA) -> None:
    # given
    with in_a():
        OptedInContactFactory()
    draft, started = _create(api_a, name="draft"), _create(api_a, name="started")
    post_json(api_a, f"/api/v1/broadcasts/{started['id']}/start/")
    # when
    running = api_a.get("/api/v1/broadcasts/", {"status": "running"}).json()["results"]
    bad = api_a.get("/api/v1/broadcasts/", {"status": "sleeping"})
    # then
    assert [b["id"] for b in running] == [started["id"]]
    assert draft["id"] not in [b["id"] for b in running]
    assert bad.status_code == 400
    assert list(bad.json()["error"]["details"]) == ["status"]


def test_list_query_count_does_not_grow_with_the_page(
    ready_a: PhoneNumber, template_a: Template, api_a: Client
) -> None:
    # given
    for _ in range(10):
        BroadcastFactory(template=template_a, phone_number=ready_a)
    api_a.get("/api/v1/me")
    # when
    with CaptureQueriesContext(connection) as one:
        api_a.get("/api/v1/broadcasts/", {"page_size": 1})
    with CaptureQueriesContext(connection) as ten:
        response = api_a.get("/api/v1/broadcasts/", {"page_size": 10})
    # then: the page and one aggregate for all its counts, whatever the page size
    assert len(response.json()["results"]) == 10
    assert len(ten.captured_queries) == len(one.captured_queries)
    assert sum("count(*) FILTER" in q["sql"] for q in ten.captured_queries) == 1


def test_gets_one_broadcast_with_its_progress(ready_a: PhoneNumber, api_a: Client, in_a: InA) -> None:
    # given: three recipients, all sent, one of them read
    with in_a():
        for phone in (ADA, BOB, CY):
            OptedInContactFactory(phone=phone)
    created = _create(api_a)
    post_json(api_a, f"/api/v1/broadcasts/{created['id']}/start/")
    with in_a():
        _run_all(created["id"])
        message = Message.objects.get(thread__contact__phone=BOB)
        for status in ("delivered", "read"):
            messages.message_status_apply(
                item=StatusUpdate(
                    phone_number_id=ready_a.phone_number_id,
                    wamid=message.wamid,
                    status=status,
                    recipient_id="",
                    timestamp=timezone.now(),
                )
            )
    # when
    response = api_a.get(f"/api/v1/broadcasts/{created['id']}/")
    # then: each recipient once, in its current state
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert body["counts"] == {**dict.fromkeys(COUNT_KEYS, 0), "total": 3, "sent": 2, "read": 1}
    assert body["completed_at"] is not None


# --- dry run and actions ------------------------------------------------------------------------


def test_dry_run_shows_audience_exclusions_cost_and_duration(ready_a: PhoneNumber, api_a: Client, in_a: InA) -> None:
    # given
    with in_a():
        OptedInContactFactory.create_batch(2)
        ContactFactory(opted_in=True, opted_out=True)
        ContactFactory(opted_in=False)
    created = _create(api_a)
    # when
    response = post_json(api_a, f"/api/v1/broadcasts/{created['id']}/dry-run/")
    # then
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"audience", "excluded", "cost", "estimated_seconds"}
    assert body["audience"] == 2
    assert body["excluded"] == {
        "opted_out": 1,
        "not_opted_in": 1,
        "marketing_opted_out": 0,
        "invalid_phone": 0,
        "duplicate": 0,
    }
    assert {"currency", "total", "by_category"} <= set(body["cost"])
    assert body["estimated_seconds"] == pytest.approx(0.0, abs=0.1)
    with in_a():
        assert Broadcast.objects.get(public_id=created["id"]).status == Broadcast.Status.DRAFT


def test_start_pause_resume_cancel_answer_202_with_the_broadcast(
    ready_a: PhoneNumber, api_a: Client, in_a: InA
) -> None:
    # given
    with in_a():
        OptedInContactFactory.create_batch(3)
    created = _create(api_a)
    path = f"/api/v1/broadcasts/{created['id']}"
    # when
    started = post_json(api_a, f"{path}/start/")
    paused = post_json(api_a, f"{path}/pause/")
    resumed = post_json(api_a, f"{path}/resume/")
    cancelled = post_json(api_a, f"{path}/cancel/")
    # then
    assert [r.status_code for r in (started, paused, resumed, cancelled)] == [202] * 4
    assert started.json()["status"] == "running"
    assert started.json()["counts"]["total"] == 3
    assert (paused.json()["status"], paused.json()["paused_reason"]) == ("paused", "Paused through the API")
    assert (resumed.json()["status"], resumed.json()["paused_reason"]) == ("running", "")
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["counts"]["skipped"] == 3


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], "pause"),
        ([], "resume"),
        (["start"], "start"),
        (["start"], "resume"),
        (["start", "pause"], "pause"),
        (["start", "cancel"], "cancel"),
        (["start", "cancel"], "start"),
    ],
    ids=[
        "pause-draft",
        "resume-draft",
        "start-running",
        "resume-running",
        "pause-paused",
        "cancel-cancelled",
        "start-cancelled",
    ],
)
def test_an_action_the_state_forbids_is_a_conflict(
    ready_a: PhoneNumber, api_a: Client, in_a: InA, setup: list[str], action: str
) -> None:
    # given
    with in_a():
        OptedInContactFactory()
    path = f"/api/v1/broadcasts/{_create(api_a)['id']}"
    for step in setup:
        assert post_json(api_a, f"{path}/{step}/").status_code == 202
    # when
    response = post_json(api_a, f"{path}/{action}/")
    # then
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"


def test_start_with_a_template_no_longer_approved_is_a_conflict(
    ready_a: PhoneNumber, api_a: Client, template_a: Template
) -> None:
    # given
    created = _create(api_a)
    with schema_context("acme"):
        Template.objects.filter(pk=template_a.pk).update(status=Template.Status.PAUSED)
    # when
    response = post_json(api_a, f"/api/v1/broadcasts/{created['id']}/start/")
    # then
    assert response.status_code == 409


def test_a_start_replayed_with_its_key_does_not_start_twice(ready_a: PhoneNumber, api_a: Client, in_a: InA) -> None:
    # given
    with in_a():
        OptedInContactFactory()
    path = f"/api/v1/broadcasts/{_create(api_a)['id']}/start/"
    first = post_json(api_a, path, key="start-1")
    # when
    again = post_json(api_a, path, key="start-1")
    # then
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()


# --- recipients -------------------------------------------------------------------------------


def test_recipients_in_send_order_with_status_filter_and_pages(ready_a: PhoneNumber, api_a: Client, in_a: InA) -> None:
    # given: ada read it, bob opted out before his chunk, cy was sent
    with in_a():
        ada, bob, _ = (OptedInContactFactory(phone=p) for p in (ADA, BOB, CY))
    created = _create(api_a)
    post_json(api_a, f"/api/v1/broadcasts/{created['id']}/start/")
    with in_a():
        contacts.consent_record(contact=bob, action="opt_out", source="keyword", detail="STOP")
        _run_all(created["id"])
        message = Message.objects.get(thread__contact=ada)
        messages.message_status_apply(
            item=StatusUpdate(
                phone_number_id=ready_a.phone_number_id,
                wamid=message.wamid,
                status="read",
                recipient_id="",
                timestamp=timezone.now(),
            )
        )
    path = f"/api/v1/broadcasts/{created['id']}/recipients/"
    # when
    everyone = api_a.get(path).json()["results"]
    page = api_a.get(path, {"page_size": 2}).json()
    rest = api_a.get(page["next"]).json()
    read = api_a.get(path, {"status": "read"}).json()["results"]
    skipped = api_a.get(path, {"status": "skipped"}).json()["results"]
    # then
    assert [(r["contact"]["phone"], r["status"]) for r in everyone] == [(ADA, "read"), (BOB, "skipped"), (CY, "sent")]
    assert [r["contact"]["phone"] for r in page["results"] + rest["results"]] == [ADA, BOB, CY]
    assert [r["contact"]["id"] for r in read] == [str(ada.public_id)]
    assert read[0]["wamid"] == message.wamid
    assert read[0]["message"] == str(message.public_id)
    assert read[0]["sent_at"] is not None
    assert read[0]["error"] is None
    assert (skipped[0]["contact"]["phone"], skipped[0]["skip_reason"], skipped[0]["wamid"]) == (BOB, "opted_out", None)
    assert set(everyone[0]) == set(broadcast_api.RecipientObject().fields)


def test_a_failed_recipient_shows_its_error(ready_a: PhoneNumber, api_a: Client, in_a: InA) -> None:
    # given
    with in_a():
        OptedInContactFactory(phone=ADA)
    created = _create(api_a)
    post_json(api_a, f"/api/v1/broadcasts/{created['id']}/start/")
    with in_a():
        Delivery.objects.filter(broadcast__public_id=created["id"]).update(
            status=Delivery.Status.FAILED, error_code=131026, error_title="Message undeliverable"
        )
    # when
    failed = api_a.get(f"/api/v1/broadcasts/{created['id']}/recipients/", {"status": "failed"}).json()["results"]
    # then
    assert failed[0]["status"] == "failed"
    assert failed[0]["error"] == {"code": 131026, "title": "Message undeliverable", "detail": ""}


def test_recipients_of_a_draft_are_none_and_a_bad_status_is_invalid(ready_a: PhoneNumber, api_a: Client) -> None:
    # given
    path = f"/api/v1/broadcasts/{_create(api_a)['id']}/recipients/"
    # when
    empty = api_a.get(path)
    bad = api_a.get(path, {"status": "lost"})
    # then
    assert empty.json() == {"results": [], "next": None, "previous": None}
    assert bad.status_code == 400
    assert list(bad.json()["error"]["details"]) == ["status"]


# --- another company -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "call"),
    [
        ("", get),
        ("dry-run/", post_with()),
        ("start/", post_with()),
        ("pause/", post_with()),
        ("resume/", post_with()),
        ("cancel/", post_with()),
        ("recipients/", get),
    ],
    ids=["get", "dry-run", "start", "pause", "resume", "cancel", "recipients"],
)
def test_charlie_gets_404_for_as_broadcast(
    ready_a: PhoneNumber, api_a: Client, api_b: Client, in_a: InA, suffix: str, call: Call
) -> None:
    # given
    created = _create(api_a)
    # when
    response = call(api_b, f"/api/v1/broadcasts/{created['id']}/{suffix}")
    # then
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    with in_a():
        assert Broadcast.objects.get(public_id=created["id"]).status == Broadcast.Status.DRAFT


def test_charlie_sees_none_of_as_broadcasts(ready_a: PhoneNumber, api_a: Client, api_b: Client) -> None:
    # given
    _create(api_a)
    # when
    response = api_b.get("/api/v1/broadcasts/")
    # then
    assert response.json()["results"] == []


def test_charlie_cannot_use_as_upload(ready_a: PhoneNumber, api_a: Client, api_b: Client, company_b: Company) -> None:
    # given: charlie can broadcast in his own company; alice uploaded a file
    with schema_context(company_b.schema_name):
        TemplateFactory(name="flight_delay", language="en")
    _connect(company_b, "770000000000909", "+44 20 7946 0900")
    upload_id = api_a.post(
        "/api/v1/uploads/", {"file": SimpleUploadedFile("a.csv", f"phone\n{ADA}\n".encode())}
    ).json()["id"]
    # when
    response = post_json(api_b, "/api/v1/broadcasts/", _body(audience={"type": "csv", "upload_id": upload_id}))
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"audience": [broadcasts.UPLOAD_UNKNOWN]}


# --- broadcast.completed --------------------------------------------------------------------


def test_completed_webhook_carries_the_api_broadcast_object(
    api_b: Client, company_b: Company, django_capture_on_commit_callbacks: Any
) -> None:
    # given: charlie's plan has outgoing webhooks; a subscriber listens to broadcast.completed
    with schema_context(company_b.schema_name):
        TemplateFactory(name="flight_delay", language="en")
        OptedInContactFactory(phone=ADA)
        WebhookSubscriptionFactory(events=["broadcast.completed"])
    _connect(company_b, "770000000000808", "+44 20 7946 0901")
    created = _create(api_b)
    post_json(api_b, f"/api/v1/broadcasts/{created['id']}/start/")
    # when
    with schema_context(company_b.schema_name), django_capture_on_commit_callbacks():
        _run_all(created["id"])
    # then
    with schema_context(company_b.schema_name):
        event = WebhookEvent.objects.get(event_type="broadcast.completed")
    detail = api_b.get(f"/api/v1/broadcasts/{created['id']}/").json()
    assert event.payload["type"] == "broadcast.completed"
    assert json.loads(json.dumps(event.payload["data"])) == detail
    assert detail["status"] == "completed"
    assert detail["counts"]["sent"] == 1


def test_selectors_build_the_same_object_the_schema_documents(tenant_a: Company, template_a: Template) -> None:
    # given
    broadcast = BroadcastFactory(template=template_a, audience={"type": "all"})
    # when
    data = broadcast_selectors.broadcast_data(broadcast)
    # then
    assert set(data) == set(broadcast_api.BroadcastObject().fields)


def test_recipients_query_count_does_not_grow_with_the_page(ready_a: PhoneNumber, api_a: Client, in_a: InA) -> None:
    # given: six sent recipients
    with in_a():
        OptedInContactFactory.create_batch(6)
    created = _create(api_a)
    post_json(api_a, f"/api/v1/broadcasts/{created['id']}/start/")
    with in_a():
        _run_all(created["id"])
    path = f"/api/v1/broadcasts/{created['id']}/recipients/"
    api_a.get("/api/v1/me")
    # when
    with CaptureQueriesContext(connection) as one:
        api_a.get(path, {"page_size": 1})
    with CaptureQueriesContext(connection) as six:
        response = api_a.get(path, {"page_size": 6})
    # then
    assert len(response.json()["results"]) == 6
    assert len(six.captured_queries) == len(one.captured_queries)


def test_a_csv_audience_end_to_end_over_the_api(ready_a: PhoneNumber, api_a: Client, in_a: InA) -> None:
    # given: a file of three passengers, one of them opted out by STOP earlier
    with in_a():
        stopped = ContactFactory(phone=CY)
        contacts.consent_record(contact=stopped, action="opt_out", source="keyword", detail="STOP")
    csv = f"phone;Seat;opt_in\n{ADA};12A;yes\n{BOB};14C;yes\n{CY};3F;yes\n{ADA};1A;yes\n"
    upload = api_a.post("/api/v1/uploads/", {"file": SimpleUploadedFile("lh123.csv", csv.encode())}).json()
    created = _create(
        api_a,
        audience={"type": "csv", "upload_id": upload["id"]},
        parameters=[{"contact": "name", "default": "traveller"}, {"column": "seat"}],
    )
    # when
    dry_run = post_json(api_a, f"/api/v1/broadcasts/{created['id']}/dry-run/").json()
    post_json(api_a, f"/api/v1/broadcasts/{created['id']}/start/")
    with in_a():
        _run_all(created["id"])
    recipients = api_a.get(f"/api/v1/broadcasts/{created['id']}/recipients/").json()["results"]
    # then
    assert (upload["rows"], upload["opt_ins_recorded"]) == (3, 2)
    assert upload["errors"] == [{"line": 5, "message": f"The phone number {ADA} is already on line 2."}]
    assert dry_run["audience"] == 2
    assert (dry_run["excluded"]["opted_out"], dry_run["excluded"]["duplicate"]) == (1, 1)
    assert [(r["contact"]["phone"], r["status"]) for r in recipients] == [(ADA, "sent"), (BOB, "sent")]
    with in_a():
        texts = {
            m.thread.contact.phone: m.text
            for m in Message.objects.select_related("thread__contact").filter(direction="outbound")
        }
    assert texts == {
        ADA: "Hello traveller, flight 12A is delayed.",
        BOB: "Hello traveller, flight 14C is delayed.",
    }
