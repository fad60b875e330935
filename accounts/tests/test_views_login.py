from __future__ import annotations

from django.test import Client, override_settings

from accounts.models import User
from conftest import Persona
from tenants import services as tenant_services

WRONG = "not-the-password-at-all"


def _login(client: Client, email: str, password: str, **extra: str) -> object:
    return client.post("/login/", {"username": email, "password": password}, **extra)


def test_login_page_has_labelled_fields_and_csrf(client_a: Client) -> None:
    # when
    response = client_a.get("/login/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert 'for="id_username"' in html
    assert 'for="id_password"' in html
    assert "csrfmiddlewaretoken" in html
    assert "Acme Pizza" in html


def test_logs_in_on_own_host_and_lands_in_the_inbox(client_a: Client, alice: Persona) -> None:
    # when
    response = _login(client_a, "alice@acme.test", alice.password)
    # then
    assert response.status_code == 302
    assert response["Location"] == "/inbox/"
    home = client_a.get("/")
    assert home.status_code == 200
    assert home.context["user"].email == "alice@acme.test"


def test_login_email_is_case_insensitive(client_a: Client, alice: Persona) -> None:
    # when
    response = _login(client_a, "  ALICE@Acme.TEST ", alice.password)
    # then
    assert response.status_code == 302


def test_wrong_password_shows_an_error(client_a: Client) -> None:
    # when
    response = _login(client_a, "alice@acme.test", WRONG)
    # then
    assert response.status_code == 200
    assert "do not match an active account" in response.content.decode()
    assert "_auth_user_id" not in client_a.session


def test_login_form_refuses_a_post_without_csrf_token(company_a: object) -> None:
    # given
    client = Client(HTTP_HOST=tenant_services.company_host(company_a), enforce_csrf_checks=True)  # type: ignore[arg-type]
    # when
    response = _login(client, "alice@acme.test", WRONG)
    # then
    assert response.status_code == 403


def test_refuses_alices_credentials_on_another_companys_host(client_b: Client, alice: Persona) -> None:
    # when
    response = _login(client_b, "alice@acme.test", alice.password)
    # then
    assert response.status_code == 200
    assert "_auth_user_id" not in client_b.session
    assert client_b.get("/").status_code == 302


def test_session_cookie_of_one_host_is_worthless_on_another(client_a: Client, client_b: Client, alice: Persona) -> None:
    # given
    _login(client_a, "alice@acme.test", alice.password)
    session_id = client_a.cookies["sessionid"].value
    # when
    client_b.cookies["sessionid"] = session_id
    response = client_b.get("/")
    # then
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")
    assert client_a.get("/").status_code == 200


def test_stores_passwords_with_argon2(alice: Persona, tenant_a: object) -> None:
    # when
    stored = User.objects.get(email="alice@acme.test").password
    # then
    assert stored.startswith("argon2")


def test_sixth_attempt_is_refused_even_with_the_right_password(client_a: Client, alice: Persona) -> None:
    # given
    for _ in range(5):
        assert _login(client_a, "alice@acme.test", WRONG).status_code == 200
    # when
    response = _login(client_a, "alice@acme.test", alice.password)
    # then
    assert response.status_code == 429
    assert "Too many failed attempts. Try again in 15 minutes." in response.content.decode()
    assert int(response["Retry-After"]) > 0
    assert "_auth_user_id" not in client_a.session


def test_throttle_counts_the_email_in_any_case(client_a: Client, alice: Persona) -> None:
    # given
    for email in ["Alice@acme.test", "ALICE@ACME.TEST", "alice@acme.test", "aLiCe@acme.test", "alice@Acme.test"]:
        _login(client_a, email, WRONG)
    # when
    response = _login(client_a, "alice@acme.test", alice.password)
    # then
    assert response.status_code == 429


@override_settings(LOGIN_FAILURE_IP_LIMIT=3)
def test_client_address_limit_blocks_guessing_across_emails(client_a: Client, alice: Persona) -> None:
    # given
    for n in range(3):
        _login(client_a, f"nobody{n}@acme.test", WRONG)
    # when
    blocked = _login(client_a, "alice@acme.test", alice.password)
    elsewhere = _login(Client(HTTP_HOST=alice.host), "alice@acme.test", alice.password, REMOTE_ADDR="10.9.8.7")
    # then
    assert blocked.status_code == 429
    assert elsewhere.status_code == 302


def test_successful_login_clears_the_email_counter(client_a: Client, alice: Persona) -> None:
    # given
    for _ in range(4):
        _login(client_a, "alice@acme.test", WRONG)
    _login(client_a, "alice@acme.test", alice.password)
    client_a.post("/logout/")
    for _ in range(4):
        _login(client_a, "alice@acme.test", WRONG)
    # when
    response = _login(client_a, "alice@acme.test", alice.password)
    # then
    assert response.status_code == 302


def test_failures_on_one_company_do_not_throttle_another(client_a: Client, client_b: Client, charlie: Persona) -> None:
    # given
    for _ in range(5):
        _login(client_a, "charlie@globex.test", WRONG)
    # when
    response = _login(client_b, "charlie@globex.test", charlie.password)
    # then
    assert response.status_code == 302


def test_logout_needs_post_and_ends_the_session(alice_client: Client) -> None:
    # given
    assert alice_client.get("/logout/").status_code == 405
    # when
    response = alice_client.post("/logout/")
    # then
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert alice_client.get("/").status_code == 302


def test_home_shows_company_plan_and_role(alice_client: Client) -> None:
    # when
    response = alice_client.get("/")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Acme Pizza" in html
    assert "Free" in html
    assert "Owner" in html
    assert 'href="/settings/team/"' in html


def test_home_needs_login(client_a: Client) -> None:
    # when
    response = client_a.get("/")
    # then
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_login_page_redirects_a_logged_in_agent_to_the_inbox(bob_client: Client) -> None:
    # when
    response = bob_client.get("/login/")
    # then
    assert response.status_code == 302
    assert response["Location"] == "/inbox/"


def test_login_follows_a_safe_next_only(client_a: Client, alice: Persona) -> None:
    # when
    inside = client_a.post("/login/?next=/settings/team/", {"username": alice.user.email, "password": alice.password})
    client_a.post("/logout/")
    outside = client_a.post(
        "/login/?next=https://evil.test/", {"username": alice.user.email, "password": alice.password}
    )
    # then
    assert inside["Location"] == "/settings/team/"
    assert outside["Location"] == "/inbox/"
