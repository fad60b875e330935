"""Inbox read benchmark: server time and query counts on a big company.

    python bench/inbox.py [--threads 100000] [--messages-per-thread 50] [--runs 200] [--reuse]

Seeds one company with 100k contacts/threads and 5M messages in set-based SQL (INSERT …
SELECT generate_series, secondary indexes dropped during the load and rebuilt after), in
its own database (`<DATABASE_URL's name>_bench_inbox`; `--reuse` keeps a seeded one).
Then it times requests through the real URL routing, tenant middleware and
authentication with Django's test client, in process: the figure is server time.

Targets (issue #3): API list and view p95 ≤ 15 ms, HTML list page p95 ≤ 25 ms, search
p95 ≤ 50 ms, query count independent of page size. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SLUG = "benchco"
AGENTS = 25
WORDS = [
    "flight", "delay", "gate", "boarding", "baggage", "refund", "voucher", "seat", "upgrade",
    "ticket", "booking", "cancel", "change", "invoice", "payment", "card", "pizza", "order",
    "delivery", "address", "table", "reservation", "menu", "allergy", "vegan", "receipt",
    "tracking", "parcel", "courier", "return", "exchange", "size", "colour", "warranty",
]  # fmt: skip


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def _setup_env(reuse: bool) -> str:
    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontakt")
    parts = urlsplit(base_url)
    name = (parts.path.lstrip("/") or "kontakt") + "_bench_inbox"
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + name))
    # Production settings (DEBUG off: no query log, compiled templates) served over plain HTTP.
    os.environ["DEBUG"] = "0"
    for variable, value in {
        "SECRET_KEY": "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "WHATSAPP_APP_SECRET": "bench-app-secret",
        "WHATSAPP_VERIFY_TOKEN": "bench-verify-token",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "BEHIND_TLS_PROXY": "0",
    }.items():
        os.environ.setdefault(variable, value)
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ["API_RATE_PER_MINUTE"] = "100000000"
    import psycopg

    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and reuse:
            return "reused"
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return "created"


def _seed(threads: int, per_thread: int) -> dict[str, float]:
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import schema_context

    from accounts.models import User
    from accounts.services import api_key_create
    from inbox.models import PhoneNumber
    from tenants import services
    from tenants.models import PhoneNumberRoute

    timings: dict[str, float] = {}
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    company = services.company_create(
        slug=SLUG,
        name="Bench Co",
        plan_code="enterprise",
        owner_email="owner@bench.test",
        owner_password="bench-pass-123",
    )
    with schema_context(company.schema_name):
        for i in range(AGENTS):
            User.objects.create_user(f"agent{i}@bench.test", "bench-pass-123", name=f"Agent {i}", role="agent")
        number = PhoneNumber.objects.create(phone_number_id="900000000000001", display_number="+4930900000001")
        api_key_create(name="bench")
    PhoneNumberRoute.objects.create(phone_number_id=number.phone_number_id, company=company)

    schema = company.schema_name
    with connection.cursor() as cursor:
        cursor.execute(f'SET search_path TO "{schema}", public')
        started = time.perf_counter()
        cursor.execute(
            """
            INSERT INTO inbox_contact (public_id, phone, wa_id, name, profile_name, attributes,
                                       opted_in, opted_out, marketing_opted_out, created_at, updated_at)
            SELECT gen_random_uuid(), '+49151' || lpad(i::text, 8, '0'), '49151' || lpad(i::text, 8, '0'),
                   'Customer ' || i, '', '{}'::jsonb, i %% 3 = 0, i %% 50 = 0, false,
                   now() - (i || ' seconds')::interval, now()
            FROM generate_series(1, %s) AS i
            """,
            [threads],
        )
        cursor.execute("SELECT id FROM accounts_user WHERE role = 'agent' ORDER BY id")
        agent_ids = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            """
            INSERT INTO inbox_thread (public_id, contact_id, phone_number_id, status, assignee_id, snoozed_until,
                                      last_message_at, last_inbound_at, last_message_preview, unread_count,
                                      created_at, updated_at, resolved_at)
            SELECT gen_random_uuid(), c.id, %s,
                   CASE WHEN c.id %% 20 < 8 THEN 'open' WHEN c.id %% 20 < 12 THEN 'pending'
                        WHEN c.id %% 20 = 12 THEN 'snoozed' ELSE 'resolved' END,
                   CASE WHEN c.id %% 10 = 0 THEN NULL ELSE (%s::bigint[])[1 + (c.id %% %s)] END,
                   NULL,
                   now() - ((c.id * 37) %% 2592000 || ' seconds')::interval,
                   now() - ((c.id * 37) %% 2592000 || ' seconds')::interval,
                   'Message about my ' || (%s::text[])[1 + c.id %% %s], (c.id %% 4),
                   now() - interval '31 days', now(), NULL
            FROM inbox_contact c
            """,
            [number.pk, agent_ids, len(agent_ids), WORDS, len(WORDS)],
        )
        timings["contacts_threads_s"] = time.perf_counter() - started

        # Secondary indexes slow a bulk load (the trigram GIN most of all): drop, load, rebuild.
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = %s AND tablename = 'inbox_message' "
            "AND indexname NOT LIKE %s",
            [schema, "%pkey"],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'inbox_message'::regclass AND contype IN ('u', 'f')"
        )
        constraints = cursor.fetchall()
        constraint_names = {name for name, _ in constraints}
        indexes = [(name, definition) for name, definition in indexes if name not in constraint_names]
        for conname, _ in constraints:
            cursor.execute(f'ALTER TABLE inbox_message DROP CONSTRAINT "{conname}"')
        for indexname, _ in indexes:
            cursor.execute(f'DROP INDEX IF EXISTS "{indexname}"')
        started = time.perf_counter()
        cursor.execute(
            """
            INSERT INTO inbox_message (public_id, thread_id, direction, type, text, payload, wamid, context_wamid,
                                       status, status_rank, status_at, error_title, error_detail, media_id,
                                       media_mime_type, media_filename, media_file, media_status, template_name,
                                       template_language, template_parameters, template_category, sender_identity,
                                       provider_timestamp, created_at)
            SELECT gen_random_uuid(), t.id,
                   CASE WHEN n %% 2 = 0 THEN 'inbound' ELSE 'outbound' END, 'text',
                   'About my ' || (%s::text[])[1 + (t.id + n) %% %s] || ' and the '
                       || (%s::text[])[1 + (t.id * n) %% %s] || ' number ' || t.id || '-' || n,
                   '{}'::jsonb, 'wamid.bench.' || t.id || '.' || n, '',
                   CASE WHEN n %% 2 = 0 THEN 'received' ELSE 'read' END,
                   CASE WHEN n %% 2 = 0 THEN 0 ELSE 4 END,
                   t.last_message_at - ((%s - n) || ' minutes')::interval, '', '', '', '', '', '', '', '', '',
                   '[]'::jsonb, '', '{}'::jsonb,
                   t.last_message_at - ((%s - n) || ' minutes')::interval,
                   t.last_message_at - ((%s - n) || ' minutes')::interval
            FROM inbox_thread t CROSS JOIN generate_series(1, %s) AS n
            """,
            [WORDS, len(WORDS), WORDS, len(WORDS), per_thread, per_thread, per_thread, per_thread],
        )
        timings["messages_load_s"] = time.perf_counter() - started
        started = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _, indexdef in indexes:
            cursor.execute(indexdef)
        for conname, definition in constraints:
            cursor.execute(f'ALTER TABLE inbox_message ADD CONSTRAINT "{conname}" {definition}')
        timings["messages_index_s"] = time.perf_counter() - started
        cursor.execute("ANALYZE")
        cursor.execute("SET search_path TO public")
    connection.set_schema_to_public()
    return timings


def _prewarm() -> None:
    """Loads the company's threads and messages (heap and indexes) into the cache first.

    The figures are meant for a running server, whose cache holds a busy company's inbox;
    right after a seed, or after other work pushed the 2.3 GB of messages out of the OS
    cache, a random thread's first view reads ~50 pages from disk (view p95 40-100 ms
    cold, ~9 ms warm on this machine). pg_prewarm is PostgreSQL's contrib module for this.
    """
    from django.db import connection

    from tenants.models import Company

    schema = Company.objects.get(slug=SLUG).schema_name
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        cursor.execute(
            "SELECT c.oid::regclass::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'i') "
            "AND c.relname LIKE ANY (ARRAY['inbox_thread%%', 'inbox_message%%', 'inbox_contact%%', 'message_%%', "
            "'thread_%%', 'contact_%%'])",
            [schema],
        )
        for (relation,) in cursor.fetchall():
            cursor.execute("SELECT pg_prewarm(%s)", [relation])


def _measure(runs: int) -> dict[str, object]:
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import schema_context

    from accounts.models import User
    from accounts.services import api_key_create
    from inbox.models import Thread

    host = f"{SLUG}.localhost"
    with schema_context(SLUG):
        key = api_key_create(name=f"bench-{time.time()}").key
        agents = list(User.objects.filter(role="agent").order_by("id"))
        thread_ids = [str(t) for t in Thread.objects.order_by("?").values_list("public_id", flat=True)[:runs]]
    api = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {key}")
    browser = Client(HTTP_HOST=host)
    with schema_context(SLUG):
        browser.force_login(agents[0])
    connection.set_schema_to_public()

    def timed(name: str, make_request: Callable[[int], object], count: int = runs) -> list[float]:
        # Warm up caches, then time.
        for i in range(min(10, count)):
            make_request(i)
        samples = []
        for i in range(count):
            started = time.perf_counter()
            response = make_request(i)
            samples.append((time.perf_counter() - started) * 1000)
            status = getattr(response, "status_code", 0)
            if status != 200:
                raise SystemExit(f"{name}: HTTP {status}: {getattr(response, 'content', b'')[:300]!r}")
        print(f"  {name}: p50 {statistics.median(samples):.2f} ms, p95 {_percentile(samples, 95):.2f} ms", flush=True)
        return samples

    words = random.Random(7)
    thread_count = int(os.environ.get("BENCH_THREADS", "100000"))

    def search_term(i: int) -> str:
        t = words.randint(1, thread_count)
        kind = i % 3
        if kind == 0:
            return f"Customer%20{t}"  # contact name
        if kind == 1:
            return f"{t:08d}"[-7:]  # phone fragment
        return f"{t}-{words.randint(1, 50)}"  # reference inside a message

    results: dict[str, list[float]] = {
        "list": timed("API thread list", lambda i: api.get("/api/v1/threads/")),
        "mine": timed(
            "API thread list, one agent's open threads",
            lambda i: api.get(f"/api/v1/threads/?status=open&assignee={agents[i % len(agents)].public_id}"),
        ),
        # What agents type: a customer's name, part of a phone number, an order/booking
        # reference from a message. (A word present in every one of the 5M messages, such
        # as "number" in this synthetic text, is reported separately: search_common_p95_ms.)
        "search": timed("API thread search", lambda i: api.get(f"/api/v1/threads/?search={search_term(i)}")),
        "search_common": timed(
            "API thread search, a word in every message", lambda i: api.get("/api/v1/threads/?search=number"), 5
        ),
        "view": timed("API thread messages", lambda i: api.get(f"/api/v1/threads/{thread_ids[i]}/messages/")),
        "html_list": timed("HTML inbox list", lambda i: browser.get("/inbox/")),
    }

    def queries(path: str, client: Client) -> int:
        reset_queries()
        with CaptureQueriesContext(connection) as ctx:
            client.get(path)
        return len([q for q in ctx.captured_queries if not q["sql"].startswith("SET search_path")])

    q_small = queries("/api/v1/threads/?page_size=5", api)
    q_big = queries("/api/v1/threads/?page_size=100", api)
    q_html = queries("/inbox/", browser)
    return {
        **{f"{name}_p50_ms": round(statistics.median(v), 2) for name, v in results.items()},
        **{f"{name}_p95_ms": round(_percentile(v, 95), 2) for name, v in results.items()},
        "queries_per_page": q_big,
        "queries_page_size_5": q_small,
        "queries_page_size_100": q_big,
        "queries_html_list": q_html,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=100_000)
    parser.add_argument("--messages-per-thread", type=int, default=50)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded bench database")
    args = parser.parse_args()
    state = _setup_env(args.reuse)

    import django

    django.setup()
    from django.core.management import call_command

    # DEBUG off serves static files from the manifest.
    call_command("collectstatic", interactive=False, verbosity=0)
    seed: dict[str, float] = {}
    if state == "created":
        print(f"seeding {args.threads} threads x {args.messages_per_thread} messages …", flush=True)
        seed = _seed(args.threads, args.messages_per_thread)
        print("  " + ", ".join(f"{k} {v:.1f}" for k, v in seed.items()), flush=True)
    os.environ["BENCH_THREADS"] = str(args.threads)
    _prewarm()
    figures = _measure(args.runs)
    result = {
        **figures,
        "threads": args.threads,
        "messages": args.threads * args.messages_per_thread,
        **{k: round(v, 1) for k, v in seed.items()},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
