"""Test settings: production settings with test-only defaults and speed knobs.

Needs a reachable PostgreSQL and Redis (DATABASE_URL/REDIS_URL; the test command starts
embedded ones when they are unset). The suite flushes the Redis database it is given.
"""

from __future__ import annotations

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontakt")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("WHATSAPP_APP_SECRET", "test-app-secret")
os.environ.setdefault("WHATSAPP_VERIFY_TOKEN", "test-verify-token")
os.environ.setdefault("BASE_DOMAIN", "localhost")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")
os.environ.setdefault("BEHIND_TLS_PROXY", "0")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("TENANT_POOL_SIZE", "0")

from config.settings import *  # noqa: F403
from config.settings import CELERY_TASK_ROUTES, MIDDLEWARE

# Every resolved request is recorded, so the suite can fail on a URL no test requested.
MIDDLEWARE = [*MIDDLEWARE, "config.testing.UrlCoverageMiddleware"]
# One queue per test session: a worker started by a test never takes a stale message.
CELERY_TASK_DEFAULT_QUEUE = os.environ.setdefault("KONTAKT_TEST_QUEUE", f"kontakt-test-{os.getpid()}")
# The broadcast queue too, per session: worker tests consume both.
TEST_BROADCAST_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-broadcasts"
CELERY_TASK_ROUTES = {name: {"queue": TEST_BROADCAST_QUEUE} for name in CELERY_TASK_ROUTES}
# pytest-django forces locmem in the test process; a worker process started by a test
# can be pointed at a file backend to show what it sent.
EMAIL_BACKEND = os.environ.get("TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Static files come from the app folders (no collectstatic before tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
