"""`/api/v1/templates/…` and the template services (design/API.md "Templates")."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from django.test import Client
from pytest_django.fixtures import Settings

from inbox.models import Template
from inbox.services import templates
from inbox.tests.api_helpers import Call, get, post_json, post_with
from inbox.tests.factories import TemplateFactory
from tenants.models import Company

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]
AssertNumQueries = Callable[..., AbstractContextManager[None]]
NEW = {
    "name": "order_shipped",
    "language": "en_US",
    "category": "utility",
    "header": "Good news",
    "body": "Hello {{1}}, your order {{2}} has shipped.",
    "footer": "Reply STOP to opt out",
    "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"}],
}
TEMPLATE_FIELDS = {
    "id",
    "name",
    "language",
    "category",
    "header",
    "body",
    "footer",
    "buttons",
    "status",
    "rejection_reason",
    "created_at",
    "updated_at",
}


def test_creates_a_draft(tenant_a: Company, api_a: Client) -> None:
    # when
    response = post_json(api_a, "/api/v1/templates/", NEW)
    # then
    assert response.status_code == 201
    body = response.json()
    assert set(body) == TEMPLATE_FIELDS
    assert {k: body[k] for k in NEW} == NEW
    assert body["status"] == "draft"


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": "Order Shipped"}, "name", templates.NAME_INVALID),
        ({"language": "english"}, "language", templates.LANGUAGE_INVALID),
        ({"buttons": [{"type": "URL"}]}, "buttons", templates.BUTTONS_INVALID),
    ],
)
def test_refuses_an_invalid_template(
    tenant_a: Company, api_a: Client, change: dict[str, object], field: str, message: str
) -> None:
    # when
    response = post_json(api_a, "/api/v1/templates/", {**NEW, **change})
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {field: [message]}


def test_refuses_a_missing_category_and_a_taken_name(tenant_a: Company, api_a: Client) -> None:
    # given
    TemplateFactory(name="order_shipped", language="en_US")
    # when
    taken = post_json(api_a, "/api/v1/templates/", NEW)
    incomplete = post_json(api_a, "/api/v1/templates/", {"name": "x", "language": "en", "body": "hi"})
    # then
    assert taken.json()["error"]["details"] == {"name": [templates.TEMPLATE_TAKEN]}
    assert incomplete.json()["error"]["details"] == {"category": ["This field is required."]}


def test_lists_templates_newest_first(tenant_a: Company, api_a: Client) -> None:
    # given
    older = TemplateFactory(name="a_first")
    newer = TemplateFactory(name="z_second")
    # when
    response = api_a.get("/api/v1/templates/")
    # then
    assert response.status_code == 200
    assert [t["id"] for t in response.json()["results"]] == [str(newer.public_id), str(older.public_id)]


@pytest.mark.parametrize("page_size", [1, 20])
def test_list_query_count_does_not_grow_with_the_page(
    tenant_a: Company, api_a: Client, django_assert_num_queries: AssertNumQueries, page_size: int
) -> None:
    # given
    for _ in range(20):
        TemplateFactory()
    api_a.get("/api/v1/me")
    # when / then: domain, key, the page, plus one SET search_path per schema switch
    with django_assert_num_queries(5):
        response = api_a.get("/api/v1/templates/", {"page_size": page_size})
    assert len(response.json()["results"]) == page_size


def test_gets_one_template(tenant_a: Company, api_a: Client) -> None:
    # given
    template = TemplateFactory(name="welcome")
    # when
    response = api_a.get(f"/api/v1/templates/{template.public_id}/")
    # then
    assert response.status_code == 200
    assert response.json()["name"] == "welcome"


def test_unknown_template_is_not_found(tenant_a: Company, api_a: Client) -> None:
    # when
    response = api_a.get(f"/api/v1/templates/{uuid.uuid4()}/")
    # then
    assert response.status_code == 404


def test_submitting_with_the_sandbox_approves_at_once(tenant_a: Company, api_a: Client, settings: Settings) -> None:
    # given
    settings.WHATSAPP_API_BASE = ""
    template = TemplateFactory(status=Template.Status.DRAFT)
    # when
    response = post_json(api_a, f"/api/v1/templates/{template.public_id}/submit/")
    # then
    assert response.status_code == 202
    assert response.json()["status"] == "approved"


def test_submitting_with_the_cloud_provider_leaves_it_pending(
    tenant_a: Company, api_a: Client, settings: Settings
) -> None:
    # given
    settings.WHATSAPP_API_BASE = "https://graph.example.test"
    template = TemplateFactory(status=Template.Status.REJECTED, rejection_reason="Too vague")
    # when
    response = post_json(api_a, f"/api/v1/templates/{template.public_id}/submit/")
    # then
    assert response.status_code == 202
    assert (response.json()["status"], response.json()["rejection_reason"]) == ("pending", "")


def test_submitting_an_approved_template_is_a_conflict(tenant_a: Company, api_a: Client) -> None:
    # given
    template = TemplateFactory(status=Template.Status.APPROVED)
    # when
    response = post_json(api_a, f"/api/v1/templates/{template.public_id}/submit/")
    # then
    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "conflict",
        "message": templates.NOT_SUBMITTABLE.format(status="approved"),
    }


def test_charlie_sees_none_of_as_templates(tenant_a: Company, api_b: Client) -> None:
    # given
    TemplateFactory()
    # when
    response = api_b.get("/api/v1/templates/")
    # then
    assert response.json()["results"] == []


@pytest.mark.parametrize(("call", "suffix"), [(get, ""), (post_with(), "submit/")], ids=["get", "submit"])
def test_charlie_gets_404_for_as_template(tenant_a: Company, api_b: Client, in_a: InA, call: Call, suffix: str) -> None:
    # given
    template = TemplateFactory(status=Template.Status.DRAFT)
    # when
    response = call(api_b, f"/api/v1/templates/{template.public_id}/{suffix}")
    # then
    assert response.status_code == 404
    with in_a():
        assert Template.objects.get(pk=template.pk).status == Template.Status.DRAFT
