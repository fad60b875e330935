"""`/api/v1/automation` and `/api/v1/business-hours`: shapes, replacement, 400 `invalid`
with field paths, and company isolation."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from automation import selectors
from automation.models import AgentAutomation
from automation.tests.helpers import AWAY, GREETING
from conftest import Persona

pytest_plugins = ["inbox.tests.fixtures_api"]

InA = Callable[[], AbstractContextManager[None]]


def put_json(client: Client, path: str, body: Any) -> Any:
    return client.put(path, json.dumps(body), content_type="application/json")


def _automation_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "greeting": {"enabled": True, "text": GREETING, "period_hours": 24},
        "away": {"enabled": True, "text": AWAY, "period_hours": 12},
        "auto_assign": {"enabled": True},
        "auto_resolve": {"idle_hours": 72},
    }
    body.update(changes)
    return body


def test_automation_starts_all_off(api_a: Client, alice: Persona, bob: Persona) -> None:
    response = api_a.get("/api/v1/automation")
    assert response.status_code == 200
    body = response.json()
    assert body["greeting"] == {"enabled": False, "text": "", "period_hours": 24}
    assert body["away"] == {"enabled": False, "text": "", "period_hours": 24}
    assert body["auto_resolve"] == {"idle_hours": None}
    assert body["auto_assign"]["enabled"] is False
    agents = {a["id"]: a for a in body["auto_assign"]["agents"]}
    assert agents[str(bob.user.public_id)] == {
        "id": str(bob.user.public_id),
        "name": "Bob Agent",
        "opted_in": False,
        "available": True,
        "max_open_threads": 10,
        "open_threads": 0,
    }


def test_put_replaces_the_settings_and_updates_named_agents(api_a: Client, bob: Persona, in_a: InA) -> None:
    # when
    body = _automation_body(
        auto_assign={
            "enabled": True,
            "agents": [{"id": str(bob.user.public_id), "opted_in": True, "max_open_threads": 3}],
        }
    )
    response = put_json(api_a, "/api/v1/automation", body)
    # then
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["greeting"] == body["greeting"]
    assert data["away"] == body["away"]
    assert data["auto_resolve"] == {"idle_hours": 72}
    bob_out = next(a for a in data["auto_assign"]["agents"] if a["id"] == str(bob.user.public_id))
    assert (bob_out["opted_in"], bob_out["available"], bob_out["max_open_threads"]) == (True, True, 3)
    with in_a():
        config = selectors.automation_settings_get()
        assert (config.greeting_enabled, config.away_cooldown_hours, config.auto_resolve_idle_hours) == (True, 12, 72)
    assert api_a.get("/api/v1/automation").json()["greeting"] == body["greeting"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        (_automation_body(greeting={"enabled": True, "text": " ", "period_hours": 24}), {"greeting.text"}),
        (_automation_body(away={"enabled": False, "text": "", "period_hours": 0}), {"away.period_hours"}),
        (_automation_body(auto_resolve={"idle_hours": -1}), {"auto_resolve.idle_hours"}),
        ({"greeting": {"enabled": True, "text": "Hi", "period_hours": 24}}, {"away", "auto_assign", "auto_resolve"}),
        (_automation_body(auto_assign={"enabled": "maybe"}), {"auto_assign.enabled"}),
        (
            _automation_body(auto_assign={"enabled": True, "agents": [{"id": "not-a-uuid"}]}),
            {"auto_assign.agents.0.id"},
        ),
    ],
)
def test_invalid_bodies_are_400_with_field_details_and_change_nothing(
    api_a: Client, in_a: InA, body: dict[str, Any], fields: set[str]
) -> None:
    response = put_json(api_a, "/api/v1/automation", body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert set(error["details"]) == fields
    with in_a():
        assert selectors.automation_settings_get().greeting_enabled is False


def test_an_agent_of_another_company_is_unknown(api_a: Client, charlie: Persona, bob: Persona, in_a: InA) -> None:
    # when: charlie's id in company A's settings, together with a valid change for bob
    body = _automation_body(
        auto_assign={
            "enabled": True,
            "agents": [{"id": str(bob.user.public_id), "opted_in": True}, {"id": str(charlie.user.public_id)}],
        }
    )
    response = put_json(api_a, "/api/v1/automation", body)
    # then
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"auto_assign.agents.1.id": [
        "No active agent of this company has this id."
    ]}  # fmt: skip
    with in_a():
        assert not AgentAutomation.objects.filter(user=bob.user, auto_assign=True).exists()
        assert selectors.automation_settings_get().auto_assign_enabled is False


def test_a_deactivated_agent_cannot_be_set(api_a: Client, bob: Persona, in_a: InA) -> None:
    with in_a():
        User.objects.filter(pk=bob.user.pk).update(is_active=False)
    body = _automation_body(auto_assign={"enabled": True, "agents": [{"id": str(bob.user.public_id)}]})
    response = put_json(api_a, "/api/v1/automation", body)
    assert response.status_code == 400


def test_business_hours_round_trip(api_a: Client) -> None:
    # given
    body = {
        "time_zone": "Europe/Berlin",
        "weekly": [
            {"weekday": "monday", "opens": "09:00", "closes": "12:00"},
            {"weekday": "monday", "opens": "14:00", "closes": "18:00"},
            {"weekday": "saturday", "opens": "18:00", "closes": "02:00"},
        ],
        "holidays": [{"date": "2026-12-25", "name": "Christmas Day"}, {"date": "2026-12-26"}],
    }
    # when
    response = put_json(api_a, "/api/v1/business-hours", body)
    # then
    assert response.status_code == 200, response.json()
    data = response.json()
    assert isinstance(data.pop("open_now"), bool)
    assert data == {
        **body,
        "holidays": [{"date": "2026-12-25", "name": "Christmas Day"}, {"date": "2026-12-26", "name": ""}],
    }
    fetched = api_a.get("/api/v1/business-hours").json()
    fetched.pop("open_now")
    assert fetched == data


def test_business_hours_start_empty_and_always_open(api_a: Client) -> None:
    response = api_a.get("/api/v1/business-hours")
    assert response.status_code == 200
    assert response.json() == {"time_zone": "UTC", "weekly": [], "holidays": [], "open_now": True}


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"time_zone": "Mars/Olympus"}, {"time_zone"}),
        ({"weekly": [{"weekday": "funday", "opens": "09:00", "closes": "17:00"}]}, {"weekly.0.weekday"}),
        ({"weekly": [{"weekday": "monday", "opens": "9am", "closes": "17:00"}]}, {"weekly.0.opens"}),
        (
            {
                "weekly": [
                    {"weekday": "monday", "opens": "09:00", "closes": "17:00"},
                    {"weekday": "monday", "opens": "16:00", "closes": "20:00"},
                ]
            },
            {"weekly.1.opens"},
        ),
        ({"holidays": [{"date": "2026-02-30"}]}, {"holidays.0.date"}),
        ({"holidays": [{"date": "2026-12-25"}, {"date": "2026-12-25"}]}, {"holidays.1.date"}),
        ({"weekly": None}, {"weekly"}),
    ],
)
def test_invalid_business_hours_are_400_and_change_nothing(
    api_a: Client, in_a: InA, changes: dict[str, Any], fields: set[str]
) -> None:
    body = {"time_zone": "UTC", "weekly": [], "holidays": [], **changes}
    response = put_json(api_a, "/api/v1/business-hours", body)
    assert response.status_code == 400, response.json()
    error = response.json()["error"]
    assert (error["code"], set(error["details"])) == ("invalid", fields)
    with in_a():
        assert selectors.automation_settings_get().time_zone == "UTC"


@pytest.mark.parametrize("path", ["/api/v1/automation", "/api/v1/business-hours"])
@pytest.mark.parametrize("method", ["get", "put"])
def test_another_company_key_cannot_read_or_change_them(
    api_client: Callable[..., Client], alice: Persona, charlie_key: Any, in_a: InA, path: str, method: str
) -> None:
    # given: charlie's key sent to company A's host
    client = api_client(alice, charlie_key)
    # when
    if method == "get":
        response = client.get(path)
    else:
        body = (
            _automation_body()
            if path.endswith("automation")
            else {"time_zone": "Asia/Tokyo", "weekly": [], "holidays": []}
        )
        response = put_json(client, path, body)
    # then: the key does not exist in A's schema
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    with in_a():
        config = selectors.automation_settings_get()
        assert (config.greeting_enabled, config.time_zone) == (False, "UTC")


def test_each_company_sees_its_own_settings(api_a: Client, api_b: Client, in_a: InA) -> None:
    put_json(api_b, "/api/v1/automation", _automation_body())
    put_json(api_b, "/api/v1/business-hours", {"time_zone": "Asia/Tokyo", "weekly": [], "holidays": []})
    assert api_a.get("/api/v1/automation").json()["greeting"]["enabled"] is False
    assert api_a.get("/api/v1/business-hours").json()["time_zone"] == "UTC"
    assert api_b.get("/api/v1/business-hours").json()["time_zone"] == "Asia/Tokyo"


def test_the_endpoints_need_a_key(client_a: Client) -> None:
    assert client_a.get("/api/v1/automation").status_code == 401
    assert client_a.get("/api/v1/business-hours").status_code == 401


def test_the_schema_documents_both_endpoints(client_a: Client) -> None:
    schema = client_a.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert set(schema["paths"]["/api/v1/automation"]) >= {"get", "put"}
    assert set(schema["paths"]["/api/v1/business-hours"]) >= {"get", "put"}
    assert "Automation" in schema["components"]["schemas"]
    assert "BusinessHours" in schema["components"]["schemas"]
