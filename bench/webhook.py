"""Inbound webhook benchmark: signed provider POSTs through the real view, accepted/s and latency.

    python bench/webhook.py [--requests 5000] [--processes 1] [--process-sample 300]

Each request goes through Django's full stack (WSGI handler via the test client: host
routing, middleware, URL resolution), is verified (HMAC over the raw bytes), stored as a
ProviderEvent (one INSERT) and enqueued to the real Redis broker (a private queue, purged
at the end; no worker consumes it). Deliveries are a realistic mix: status reports
(sent/delivered/read, 3x the inbound traffic per whatsapp-platform.md §0), single inbound
messages, and a few large batches (20 messages + 20 statuses).

Works in its own database (`<DATABASE_URL's name>_bench_webhook`, dropped and made anew).
`--process-sample N` also times the worker side: processing N stored events (routing,
schema switch, idempotent writes), reported as items/s.

The last line is one JSON object: accepted_per_s, p50_ms, p99_ms, requests, processes, …
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-app-secret"  # noqa: S105 - a fixed secret for the bench database only
NUMBER_ID = "770000000000001"
QUEUE = "kontakt-bench-webhook"


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def _payloads(count: int, seed: int) -> list[tuple[bytes, str]]:
    from inbox.providers.sandbox import body_encode, envelope_build, status_item, text_message_item

    rng = random.Random(seed)
    out = []
    for i in range(count):
        customer = f"+49151{rng.randrange(10**7, 10**8)}"
        roll = rng.random()
        if roll < 0.70:
            statuses = [status_item(wamid=f"wamid.BENCH{seed}-{i}", status=s, recipient=customer)
                        for s in rng.sample(["sent", "delivered", "read"], k=rng.choice([1, 1, 2]))]  # fmt: skip
            payload = envelope_build(phone_number_id=NUMBER_ID, statuses=statuses)
        elif roll < 0.97:
            item = text_message_item(sender=customer, text="Hallo, ist mein Tisch für heute Abend frei? 🍕",
                                     wamid=f"wamid.IN{seed}-{i}")  # fmt: skip
            payload = envelope_build(phone_number_id=NUMBER_ID, messages=[item],
                                     contacts=[{"profile": {"name": "Ana Pérez"}, "wa_id": customer[1:]}])  # fmt: skip
        else:
            messages = [text_message_item(sender=f"+49151{rng.randrange(10**7, 10**8)}", text=f"Nachricht {j}",
                                          wamid=f"wamid.B{seed}-{i}-{j}") for j in range(20)]  # fmt: skip
            statuses = [status_item(wamid=f"wamid.BS{seed}-{i}-{j}", status="delivered", recipient=customer)
                        for j in range(20)]  # fmt: skip
            payload = envelope_build(phone_number_id=NUMBER_ID, messages=messages, statuses=statuses)
        body = body_encode(payload)
        out.append((body, "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()))
    return out


def _post_all(args: tuple[int, int, str]) -> tuple[list[float], float]:
    count, seed, host = args
    from django.db import connections
    from django.test import Client

    connections.close_all()  # a forked child must not share the parent's connection
    client = Client(HTTP_HOST=host)
    deliveries = _payloads(count, seed)
    timings = []
    cpu_started = time.process_time()
    for body, signature in deliveries:
        started = time.perf_counter()
        response = client.post(
            "/webhooks/whatsapp/", data=body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature
        )
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"unexpected answer {response.status_code}: {response.content[:200]!r}")
    cpu = time.process_time() - cpu_started
    connections.close_all()
    return timings, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000, help="timed POSTs (in all processes)")
    parser.add_argument("--processes", type=int, default=1, help="client+server processes posting at once")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--process-sample", type=int, default=300, help="stored events to process and time")
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontakt")
    parts = urlsplit(base_url)
    bench_name = (parts.path.lstrip("/") or "kontakt") + "_bench_webhook"
    os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/" + bench_name))
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    os.environ["CELERY_BROKER_URL"] = os.environ["REDIS_URL"]
    # Production settings (DEBUG off: no query log), with the bench's own secrets.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    os.environ["WHATSAPP_APP_SECRET"] = SECRET
    os.environ.setdefault("WHATSAPP_VERIFY_TOKEN", "bench-verify-token")
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ["BEHIND_TLS_PROXY"] = "0"
    os.environ["TENANT_POOL_SIZE"] = "0"
    os.environ["LOG_LEVEL"] = "ERROR"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"

    import psycopg

    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{bench_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{bench_name}"')

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, connections

    from config.celery import app
    from inbox.services import numbers
    from tenants import inbound
    from tenants import services as tenant_services
    from tenants.models import ProviderEvent

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
    company = tenant_services.company_create(
        slug="benchco", name="Bench Co", plan_code="free", owner_email="o@bench.test", owner_password="bench-pass-123"
    )
    numbers.phone_number_connect(company=company, phone_number_id=NUMBER_ID, display_number="+493012345601")
    connection.set_schema_to_public()
    app.conf.task_default_queue = QUEUE
    host = settings.BASE_DOMAIN

    _post_all((args.warmup, 999, host))
    ProviderEvent.objects.all().delete()
    connections.close_all()
    # What a gunicorn worker does on importing config.wsgi (config/runtime.py).
    from config import runtime

    runtime.gc_tune()

    per_process = max(1, args.requests // args.processes)
    jobs = [(per_process, seed, host) for seed in range(args.processes)]
    started = time.perf_counter()
    if args.processes == 1:
        results = [_post_all(jobs[0])]
    else:
        with multiprocessing.get_context("fork").Pool(args.processes) as pool:
            results = pool.map(_post_all, jobs)
    wall = time.perf_counter() - started
    timings = [t for result, _ in results for t in result]
    cpu_ms = sum(cpu for _, cpu in results) * 1000 / len(timings)
    stored = ProviderEvent.objects.count()

    processed_items = 0
    process_s = 0.0
    sample = list(ProviderEvent.objects.order_by("id").values_list("id", flat=True)[: args.process_sample])
    if sample:
        started = time.perf_counter()
        for event_id in sample:
            result = inbound.provider_event_process(event_id=event_id)
            processed_items += result.items if result else 0
        process_s = time.perf_counter() - started

    with app.connection_for_write() as conn:
        purged = conn.default_channel.queue_purge(QUEUE) or 0

    result_json: dict[str, Any] = {
        "accepted_per_s": round(len(timings) / wall, 1),
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(_percentile(timings, 99), 2),
        "max_ms": round(max(timings), 2),
        # Python CPU of the web side per request (client + view in one process), and how busy
        # the shared box was: figures on a loaded machine read low.
        "web_cpu_ms_per_request": round(cpu_ms, 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "requests": len(timings),
        "processes": args.processes,
        "stored_events": stored,
        "enqueued_purged": purged,
        "processed_events": len(sample),
        "processed_items_per_s": round(processed_items / process_s, 1) if process_s else None,
        "processed_events_per_s": round(len(sample) / process_s, 1) if process_s else None,
    }
    print(
        f"{len(timings)} signed webhook POSTs through the view in {wall:.1f} s with {args.processes} process(es): "
        f"{result_json['accepted_per_s']}/s, p50 {result_json['p50_ms']} ms, p99 {result_json['p99_ms']} ms; "
        f"worker side: {result_json['processed_items_per_s']} items/s"
    )
    print(json.dumps(result_json))


if __name__ == "__main__":
    main()
