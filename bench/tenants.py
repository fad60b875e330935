"""Provisioning benchmark: ms per new company, with a catalogue of existing companies.

    python bench/tenants.py [--count 200] [--existing 1000] [--pool-size 3]

Works in its own database (`<DATABASE_URL's name>_bench`, dropped and made anew), so dev
data is never touched. Steady state is what a signup meets in production: Celery beat keeps
TENANT_POOL_SIZE migrated schemas ready, so each timed `company_create` claims one; the
refill between signups is not timed (it runs in the background there), but its cost is
reported as `pool_build_p50_ms`, and so is the cold path (`cold_p50_ms`: pool empty, the
schema is built inside the signup). Argon2 hashing of the owner's password is included.

The last line is one JSON object: provision_p50_ms, provision_p95_ms, existing, count, …
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _bench_database_url(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    name = (parts.path.lstrip("/") or "kontakt") + "_bench"
    return urlunsplit(parts._replace(path="/" + name)), name


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="companies to provision and time")
    parser.add_argument("--existing", type=int, default=0, help="companies to create first (untimed)")
    parser.add_argument("--pool-size", type=int, default=3)
    parser.add_argument("--cold", type=int, default=5, help="companies timed with an empty pool")
    args = parser.parse_args()

    base_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kontakt")
    bench_url, bench_name = _bench_database_url(base_url)
    os.environ["DATABASE_URL"] = bench_url
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    # No worker consumes during the bench: the after-claim refill message goes nowhere.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["LOG_LEVEL"] = "WARNING"

    import psycopg

    admin_url = urlunsplit(urlsplit(base_url)._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{bench_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{bench_name}"')

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from tenants import services
    from tenants.models import Company

    call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)

    def create(slug: str) -> float:
        started = time.perf_counter()
        services.company_create(
            slug=slug,
            name=f"Company {slug}",
            plan_code="free",
            owner_email=f"owner@{slug}.test",
            owner_password="bench-password-123",
        )
        return (time.perf_counter() - started) * 1000

    build_ms: list[float] = []

    def refill() -> None:
        while Company.objects.filter(status=Company.Status.POOLED).count() < args.pool_size:
            started = time.perf_counter()
            services.tenant_pool_build()
            build_ms.append((time.perf_counter() - started) * 1000)

    started_existing = time.perf_counter()
    for i in range(args.existing):
        create(f"existing-{i:05d}")
        if i and i % 100 == 0:
            print(f"  {i} existing companies ({time.perf_counter() - started_existing:.0f} s)", flush=True)
    existing_s = time.perf_counter() - started_existing

    cold_ms = [create(f"cold-{i:04d}") for i in range(args.cold)]

    refill()
    timings: list[float] = []
    for i in range(args.count):
        timings.append(create(f"bench-{i:05d}"))
        refill()

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class")
        (pg_class_rows,) = cursor.fetchone()
    companies = Company.objects.exclude(status__in=[Company.Status.POOLED, Company.Status.BUILDING]).count()

    result = {
        "provision_p50_ms": round(statistics.median(timings), 1),
        "provision_p95_ms": round(_percentile(timings, 95), 1),
        "provision_max_ms": round(max(timings), 1),
        "existing": args.existing,
        "count": args.count,
        "companies_at_end": companies,
        "cold_p50_ms": round(statistics.median(cold_ms), 1) if cold_ms else None,
        "pool_build_p50_ms": round(statistics.median(build_ms), 1) if build_ms else None,
        "existing_fill_s": round(existing_s, 1),
        "pg_class_rows": pg_class_rows,
    }
    print(
        f"provisioned {args.count} companies with {args.existing} existing: "
        f"p50 {result['provision_p50_ms']} ms, p95 {result['provision_p95_ms']} ms "
        f"(cold path p50 {result['cold_p50_ms']} ms, pool build p50 {result['pool_build_p50_ms']} ms)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
