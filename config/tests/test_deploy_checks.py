from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _production_env() -> dict[str, str]:
    db = settings.DATABASES["default"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECURE_", "SESSION_", "CSRF_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "DATABASE_URL": os.environ.get("DATABASE_URL", f"postgres://{db['USER']}@127.0.0.1:5432/{db['NAME']}"),
            "REDIS_URL": settings.REDIS_URL,
            "WHATSAPP_APP_SECRET": secrets.token_hex(16),
            "WHATSAPP_VERIFY_TOKEN": secrets.token_hex(16),
        }
    )
    env.pop("BEHIND_TLS_PROXY", None)
    return env


def test_production_settings_pass_check_deploy() -> None:
    # when
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    # then
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key() -> None:
    # given
    env = _production_env()
    del env["SECRET_KEY"]
    # when
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    # then
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_passwords_are_hashed_with_argon2() -> None:
    assert settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_session_and_csrf_cookies_are_host_only() -> None:
    assert settings.SESSION_COOKIE_DOMAIN is None
    assert settings.CSRF_COOKIE_DOMAIN is None


def test_connections_plan_with_the_configured_random_page_cost(db: None) -> None:
    # given: the settings' connection option (DATABASE_RANDOM_PAGE_COST, default 1.1)
    from django.db import connection

    # when
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        value = cursor.fetchone()[0]
    # then
    assert float(value) == float(settings.DATABASE_RANDOM_PAGE_COST) == 1.1
