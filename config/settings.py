"""Kontakt settings: one module, every knob from the environment.

Typed helpers fail loudly on malformed values. No secret has a default outside DEBUG.
`.env.example` lists every variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    """A string from the environment; `NAME_FILE` (a path) wins, for container secrets."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    raw = env(name, "")
    if raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def envint(name: str, default: int) -> int:
    raw = env(name, "")
    if raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def envlist(name: str, default: list[str]) -> list[str]:
    raw = env(name, "")
    if raw == "":
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


DEBUG = envbool("DEBUG", False)


def envsecret(name: str, dev_default: str) -> str:
    """A secret: required unless DEBUG, where a fixed development value is used."""
    value = env(name, "")
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} must be set when DEBUG is off")


SECRET_KEY = envsecret("SECRET_KEY", "dev-only-insecure-secret-key-never-use-in-production-0123456789")

# Public host (landing page, signup, operator admin, provider webhook); a company lives at
# `<slug>.<BASE_DOMAIN>`. Browsers resolve `*.localhost` to 127.0.0.1 by themselves.
BASE_DOMAIN = env("BASE_DOMAIN", "localhost").lower()
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", [BASE_DOMAIN, f".{BASE_DOMAIN}"])
# Port shown in printed links (the dev server's); empty behind a proxy on 80/443.
PUBLIC_PORT = env("PUBLIC_PORT", "")
PUBLIC_SCHEME = env("PUBLIC_SCHEME", "http" if DEBUG else "https")

# --- apps -------------------------------------------------------------------------
SHARED_APPS = [
    "django_tenants",
    "tenants",
    "billing",
    "accounts",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.postgres",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
]
# Users live in each company's schema (and operators in public): `accounts` and auth are in
# both lists, so every schema has its own user table and sessions.
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "accounts",
    "inbox",
    "automation",
    "reports",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Company"
TENANT_DOMAIN_MODEL = "tenants.Domain"
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenant"
AUTH_USER_MODEL = "accounts.User"

MIDDLEWARE = [
    "tenants.middleware.CompanyHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tenants.middleware.SuspendedCompanyMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.company",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- database ------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontakt" if DEBUG else "")
if not DATABASE_URL:
    raise ImproperlyConfigured("DATABASE_URL must be set when DEBUG is off")
# Persistent connections: a new connection per request costs ~5 ms, more than an inbox
# query (performance-limits.md §5a).
_db: dict[str, Any] = dj_database_url.parse(
    DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60), conn_health_checks=True
)
_db["ENGINE"] = "django_tenants.postgresql_backend"
# The planner's cost of a random page read, sent as a connection option. PostgreSQL's
# default (4.0) prices a disk seek; our working set lives in memory on SSD-backed
# servers, and at 4.0 a broadcast chunk's claim (500 deliveries joined to their
# contacts) hash-joined a sequential scan of every contact instead of 500 primary-key
# probes: 17 ms instead of 5 per chunk (docs/broadcasts.md "Throughput"). 1.1 is the
# usual setting for SSDs; the inbox benchmark read the same either way. Empty leaves the
# server's own value (e.g. behind a pooler that refuses startup options).
DATABASE_RANDOM_PAGE_COST = env("DATABASE_RANDOM_PAGE_COST", "1.1")
if DATABASE_RANDOM_PAGE_COST:
    _db.setdefault("OPTIONS", {})["options"] = f"-c random_page_cost={float(DATABASE_RANDOM_PAGE_COST)}"
DATABASES = {"default": _db}
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
# Issue `SET search_path` only when the schema changes, not before every query (half the
# round trips). Safe with django-tenants 4: the cached path is forgotten on close, rollback
# and savepoint rollback, when PostgreSQL itself discards the SET.
TENANT_LIMIT_SET_CALLS = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery -----------------------------------------------------------------
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0" if DEBUG else "")
if not REDIS_URL:
    raise ImproperlyConfigured("REDIS_URL must be set when DEBUG is off")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Every key carries the schema name, so one company's cache entry can never be
        # served to another (django-tenants #599, #1052).
        "KEY_FUNCTION": "django_tenants.cache.make_key",
        "REVERSE_KEY_FUNCTION": "django_tenants.cache.reverse_key",
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", "kontakt"),
    }
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", REDIS_URL)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
# A task that dies with its worker is delivered again rather than lost; every task is
# idempotent by design (services re-check state or claim work with a conditional UPDATE).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": envint("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", False)
# Celery's Django fixup closes the database connections around every task unless this is
# set; config/celery.py recycles them by CONN_MAX_AGE instead, as requests do.
CELERY_DB_REUSE_MAX = 10**9
# The first threshold of CPython's garbage collector in web and worker processes, which
# also freeze what they hold once loaded (config/runtime.py); 0 keeps Python's 700.
GC_THRESHOLD = envint("GC_THRESHOLD", 10_000)
CELERY_BEAT_SCHEDULE_FILENAME = env("CELERY_BEAT_SCHEDULE_FILENAME", str(BASE_DIR / ".data" / "celerybeat-schedule"))

# --- auth -------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inbox:thread_list"
LOGOUT_REDIRECT_URL = "login"
PASSWORD_RESET_TIMEOUT = envint("PASSWORD_RESET_TIMEOUT", 3600)
INVITATION_TTL_HOURS = envint("INVITATION_TTL_HOURS", 72)
# Failed logins: after LOGIN_FAILURE_LIMIT failures for one e-mail (per company) or one
# client address within LOGIN_FAILURE_WINDOW seconds, further attempts are refused until the
# window has passed. Kept in Redis, keyed by schema.
LOGIN_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
LOGIN_FAILURE_IP_LIMIT = envint("LOGIN_FAILURE_IP_LIMIT", 20)
LOGIN_FAILURE_WINDOW = envint("LOGIN_FAILURE_WINDOW", 900)
SIGNUP_RATE_PER_HOUR = envint("SIGNUP_RATE_PER_HOUR", 10)

# Host-only cookies: a session or CSRF cookie of one company's host is never sent to
# another's (django-tenant-schemas #306). Never set SESSION_COOKIE_DOMAIN.
SESSION_COOKIE_DOMAIN = None
CSRF_COOKIE_DOMAIN = None
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 12 * 3600)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_TLS_PROXY", not DEBUG) else None
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# /healthz is probed over plain HTTP by load balancers and compose health checks.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- i18n, static, media ------------------------------------------------------------------
LANGUAGE_CODE = "en"
# English and German (docs/i18n.md): an agent's profile language wins, else the browser's.
LANGUAGES = [("en", "English"), ("de", "Deutsch")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "/media/"

# --- e-mail ------------------------------------------------------------------------------
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(BASE_DIR / ".data" / "mail"))
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", f"Kontakt <no-reply@{BASE_DOMAIN}>")

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["inbox.api.auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["inbox.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "config.api.CursorPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Size-limited JSON parser: DRF's own reads any size (config/api.py).
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "PAGE_SIZE": 50,
}
# Requests per minute per API key come from the company's plan; this, when not 0, caps every
# plan's figure (an operator's brake).
API_RATE_PER_MINUTE = envint("API_RATE_PER_MINUTE", 0)
# Billing (docs/billing.md): an owner's plan-change request is approved at once (demo mode).
BILLING_PLAN_CHANGES_INSTANT = envbool("BILLING_PLAN_CHANGES_INSTANT", DEBUG)
SPECTACULAR_SETTINGS = {
    "TITLE": "Kontakt API",
    "DESCRIPTION": "REST API of a Kontakt company. Authenticate with `Authorization: Bearer <api key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and docs are public: a stray Authorization header must not turn them into 401s.
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- provisioning ---------------------------------------------------------------------------
# Schemas migrated ahead of time and renamed at signup (tenants/services.py explains why).
TENANT_POOL_SIZE = envint("TENANT_POOL_SIZE", 3)

# --- provider (WhatsApp Cloud API shape) ---------------------------------------------------
WHATSAPP_API_BASE = env("WHATSAPP_API_BASE", "")
WHATSAPP_API_VERSION = env("WHATSAPP_API_VERSION", "v21.0")
WHATSAPP_APP_SECRET = envsecret("WHATSAPP_APP_SECRET", "dev-app-secret")
WHATSAPP_VERIFY_TOKEN = envsecret("WHATSAPP_VERIFY_TOKEN", "dev-verify-token")
WEBHOOKS_ALLOW_PRIVATE_TARGETS = envbool("WEBHOOKS_ALLOW_PRIVATE_TARGETS", DEBUG)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Days a processed inbound webhook body is kept for reprocessing (tenants/inbound.py
# provider_events_purge); the messages it carried live on in the companies' tables.
PROVIDER_EVENT_RETENTION_DAYS = envint("PROVIDER_EVENT_RETENTION_DAYS", 30)
# Media files uploaded over the API (`POST /uploads/`) are deleted this long after upload
# (inbox.tasks.media_uploads_purge_task); a message sent with one keeps its own copy.
MEDIA_UPLOAD_RETENTION_HOURS = envint("MEDIA_UPLOAD_RETENTION_HOURS", 24)
CELERY_BEAT_SCHEDULE = {
    "tenant-pool-fill": {"task": "tenants.tasks.tenant_pool_fill_task", "schedule": 60.0},
    # Inbound webhook bodies stored while the broker was unreachable.
    "provider-events-requeue": {
        "task": "tenants.tasks.provider_events_requeue_task",
        "schedule": 300.0,
        "options": {"expires": 290},
    },
    # Processed inbound webhook bodies past PROVIDER_EVENT_RETENTION_DAYS.
    "provider-events-purge": {
        "task": "tenants.tasks.provider_events_purge_task",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    # Outgoing webhook retries and attempts whose worker died (claimed in the database).
    "webhook-events-dispatch": {
        "task": "inbox.tasks.webhook_events_dispatch_task",
        "schedule": 30.0,
        "options": {"expires": 25},
    },
    "idempotency-records-purge": {
        "task": "tenants.tasks.companies_fanout_task",
        "schedule": 3600.0,
        "args": ["inbox.tasks.idempotency_records_purge_task"],
        "options": {"expires": 3000},
    },
    # Media uploads past MEDIA_UPLOAD_RETENTION_HOURS, with their files.
    "media-uploads-purge": {
        "task": "tenants.tasks.companies_fanout_task",
        "schedule": 3600.0,
        "args": ["inbox.tasks.media_uploads_purge_task"],
        "options": {"expires": 3000},
    },
    # Broadcasts: expired leases re-queued, quiet broadcasts re-dispatched, scheduled ones started.
    "broadcasts-sweep": {
        "task": "tenants.tasks.companies_fanout_task",
        "schedule": 30.0,
        "args": ["inbox.tasks.broadcast_sweep_task"],
        "options": {"expires": 25},
    },
    # Billing: last month's invoices, early on the 1st (idempotent; hourly so a missed run catches up).
    "invoices-issue": {
        "task": "billing.tasks.invoices_issue_task",
        "schedule": 3600.0,
        "options": {"expires": 3000},
    },
    # Send later: due scheduled replies claimed and sent (inbox/services/scheduled.py).
    "scheduled-messages-send": {
        "task": "tenants.tasks.companies_fanout_task",
        "schedule": 15.0,
        "args": ["inbox.tasks.scheduled_messages_send_task"],
        "options": {"expires": 14},
    },
    # Reports: fold changed threads, messages and ratings into the daily rollups (docs/reports.md).
    "reports-rollup": {
        "task": "tenants.tasks.companies_fanout_task",
        "schedule": 300.0,
        "args": ["reports.tasks.reports_rollup_task"],
        "options": {"expires": 290},
    },
    "threads-wake-snoozed": {
        "task": "tenants.tasks.companies_fanout_task",
        "schedule": 60.0,
        "args": ["inbox.tasks.thread_wake_snoozed_task"],
        "options": {"expires": 55},
    },
    # Automation: waiting threads to agents with capacity; idle threads resolved.
    "automation-assign-waiting": {
        "task": "tenants.tasks.companies_fanout_task",
        "schedule": 60.0,
        "args": ["automation.tasks.automation_assign_waiting_task"],
        "options": {"expires": 55},
    },
    # GDPR retention: message content of long-resolved threads purged (inbox/services/privacy.py).
    "privacy-retention-purge": {
        "task": "tenants.tasks.companies_fanout_task",
        "schedule": crontab(hour=2, minute=30),
        "args": ["inbox.tasks.retention_purge_task"],
        "options": {"expires": 3600},
    },
    "automation-auto-resolve": {
        "task": "tenants.tasks.companies_fanout_task",
        "schedule": 300.0,
        "args": ["automation.tasks.automation_auto_resolve_task"],
        "options": {"expires": 290},
    },
}

# --- broadcasts (docs/broadcasts.md) ---------------------------------------------------------
# Fan-out work has its own queue, so a company's million-recipient broadcast never delays an
# agent's reply (queue `celery`); run workers with `-Q celery` and `-Q broadcasts`.
CELERY_TASK_ROUTES = {
    "inbox.tasks.broadcast_chunk_send_task": {"queue": "broadcasts"},
    "inbox.tasks.broadcast_dispatch_task": {"queue": "broadcasts"},
    "inbox.tasks.broadcast_start_task": {"queue": "broadcasts"},
    # Send later waits on the broadcasts queue too; the send itself is an ordinary reply.
    "inbox.tasks.scheduled_messages_send_task": {"queue": "broadcasts"},
}
BROADCAST_CHUNK_SIZE = envint("BROADCAST_CHUNK_SIZE", 500)
# Chunks of one broadcast waiting in the queue at once: broadcasts take turns.
BROADCAST_WINDOW = envint("BROADCAST_WINDOW", 4)
# Messages per second per business number (the platform's default tier; 1,000 when upgraded).
BROADCAST_NUMBER_RATE = float(env("BROADCAST_NUMBER_RATE", "80"))
BROADCAST_CONCURRENCY = envint("BROADCAST_CONCURRENCY", 64)
BROADCAST_LEASE_SECONDS = envint("BROADCAST_LEASE_SECONDS", 60)
BROADCAST_QUIET_SECONDS = envint("BROADCAST_QUIET_SECONDS", 120)
BROADCAST_MAX_ATTEMPTS = envint("BROADCAST_MAX_ATTEMPTS", 8)
# Circuit breaker (inbox/services/broadcast_breaker.py): a broadcast pauses itself when more
# than this share of its last BROADCAST_BREAKER_SAMPLE finished messages failed (per broadcast
# `failure_threshold` overrides it), or on a burst of one campaign-level error code.
BROADCAST_FAILURE_THRESHOLD = float(env("BROADCAST_FAILURE_THRESHOLD", "0.2"))
BROADCAST_BREAKER_SAMPLE = envint("BROADCAST_BREAKER_SAMPLE", 200)
BROADCAST_BREAKER_MIN_SAMPLE = envint("BROADCAST_BREAKER_MIN_SAMPLE", 50)
BROADCAST_BREAKER_BURST = envint("BROADCAST_BREAKER_BURST", 10)
BROADCAST_BREAKER_THROTTLE_SECONDS = envint("BROADCAST_BREAKER_THROTTLE_SECONDS", 120)
# A canary's hold when the broadcast names none.
BROADCAST_CANARY_HOLD_SECONDS = envint("BROADCAST_CANARY_HOLD_SECONDS", 600)
