"""Settings → Automation in the browser, and an agent's own availability switch."""

from __future__ import annotations

from datetime import time

from django.test import Client
from django_tenants.utils import schema_context

from automation import selectors
from automation.models import AgentAutomation
from conftest import Persona
from tenants.models import Company

PAGE = "/settings/automation/"


def _settings_post(**changes: str) -> dict[str, str]:
    data = {
        "greeting_enabled": "on",
        "greeting_text": "Hi <b>there</b>!",
        "greeting_cooldown_hours": "24",
        "away_text": "",
        "away_cooldown_hours": "24",
        "auto_assign_enabled": "on",
        "auto_resolve_idle_hours": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_owner_sees_the_page_with_agents_and_hours(alice_client: Client, bob: Persona) -> None:
    response = alice_client.get(PAGE)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Bob Agent" in body
    assert 'name="monday"' in body
    assert 'aria-current="page">Automation<' in body


def test_an_agent_gets_the_readable_403(bob_client: Client) -> None:
    assert bob_client.get(PAGE).status_code == 403
    assert bob_client.post("/settings/automation/hours/", {"time_zone": "UTC"}).status_code == 403


def test_saving_settings_stores_them_and_escapes_the_text(alice_client: Client, company_a: Company) -> None:
    response = alice_client.post(PAGE, _settings_post())
    assert response.status_code == 302
    with schema_context(company_a.schema_name):
        config = selectors.automation_settings_get()
        assert (config.greeting_enabled, config.greeting_text, config.auto_assign_enabled) == (
            True,
            "Hi <b>there</b>!",
            True,
        )
        assert config.auto_resolve_idle_hours is None
    page = alice_client.get(PAGE).content.decode()
    assert "Hi &lt;b&gt;there&lt;/b&gt;!" in page


def test_an_enabled_away_message_without_text_is_refused_readably(alice_client: Client, company_a: Company) -> None:
    response = alice_client.post(PAGE, _settings_post(away_enabled="on", away_text=" "))
    assert response.status_code == 400
    assert "Write the away message, or switch it off." in response.content.decode()
    with schema_context(company_a.schema_name):
        assert selectors.automation_settings_get().greeting_enabled is False


def test_business_hours_are_saved_from_shop_door_notation(alice_client: Client, company_a: Company) -> None:
    response = alice_client.post(
        "/settings/automation/hours/",
        {
            "time_zone": "Europe/Berlin",
            "monday": "09:00-12:00, 14:00 \u2013 18:00",
            "friday": "18:00-02:00",
            "sunday": "",
            "holidays": "2026-12-25 Christmas Day\n\n2026-12-26",
        },
    )
    assert response.status_code == 302
    with schema_context(company_a.schema_name):
        spans = [(i.weekday, i.opens, i.closes) for i in selectors.opening_interval_list()]
        assert spans == [(0, time(9), time(12)), (0, time(14), time(18)), (4, time(18), time(2))]
        assert [(h.date.isoformat(), h.name) for h in selectors.holiday_list()] == [
            ("2026-12-25", "Christmas Day"),
            ("2026-12-26", ""),
        ]
    page = alice_client.get(PAGE).content.decode()
    assert 'value="09:00-12:00, 14:00-18:00"' in page


def test_bad_hours_show_which_day_is_wrong(alice_client: Client, company_a: Company) -> None:
    response = alice_client.post(
        "/settings/automation/hours/",
        {"time_zone": "Europe/Berlin", "tuesday": "9 to 5", "holidays": "Christmas"},
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "Write spans like 09:00-12:00, 14:00-18:00." in body
    assert "Line 1: start with a date like 2026-12-25." in body
    overlap = alice_client.post(
        "/settings/automation/hours/", {"time_zone": "UTC", "wednesday": "09:00-17:00, 16:00-18:00"}
    )
    assert overlap.status_code == 400
    assert "overlaps" in overlap.content.decode()
    with schema_context(company_a.schema_name):
        assert not selectors.opening_interval_list().exists()


def test_owner_sets_an_agents_assignment(alice_client: Client, bob: Persona, company_a: Company) -> None:
    url = f"/settings/automation/agents/{bob.user.public_id}/"
    assert alice_client.post(url, {"auto_assign": "on", "max_open_threads": "4"}).status_code == 302
    with schema_context(company_a.schema_name):
        row = AgentAutomation.objects.get(user=bob.user)
        assert (row.auto_assign, row.max_open_threads) == (True, 4)
    refused = alice_client.post(url, {"max_open_threads": "0"}, follow=True)
    assert "was not changed" in refused.content.decode()
    with schema_context(company_a.schema_name):
        assert AgentAutomation.objects.get(user=bob.user).max_open_threads == 4


def test_another_companys_agent_is_404(alice_client: Client, charlie: Persona) -> None:
    url = f"/settings/automation/agents/{charlie.user.public_id}/"
    assert alice_client.post(url, {"auto_assign": "on", "max_open_threads": "4"}).status_code == 404


def test_an_agent_switches_themself_away_and_back(bob_client: Client, bob: Persona, company_a: Company) -> None:
    # the header shows the switch on every page
    page = bob_client.get("/inbox/").content.decode()
    assert "Available" in page
    response = bob_client.post("/settings/automation/availability/", {"available": "0", "next": "/inbox/"})
    assert response.status_code == 302
    assert response["Location"] == "/inbox/"
    with schema_context(company_a.schema_name):
        assert AgentAutomation.objects.get(user=bob.user).available is False
    assert "Away" in bob_client.get("/inbox/").content.decode()
    back = bob_client.post("/settings/automation/availability/", {"available": "1", "next": "https://evil.test/"})
    assert back["Location"] == "/inbox/"
    with schema_context(company_a.schema_name):
        assert AgentAutomation.objects.get(user=bob.user).available is True


def test_the_switch_needs_a_login(client_a: Client) -> None:
    response = client_a.post("/settings/automation/availability/", {"available": "0"})
    assert response.status_code == 302
    assert "/login/" in response["Location"]
