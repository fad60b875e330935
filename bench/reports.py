"""Reports benchmark: the rollup backfill and the report page on the inbox benchmark's data.

    python bench/reports.py [--runs 100]

Reuses the inbox benchmark's database (`<DATABASE_URL's name>_bench_inbox`, company
`benchco`: 100k threads, 5M messages, 25 agents) and never re-seeds or drops it: run
`bench/inbox.py` once first. It brings the schema up to date (`migrate_schemas`: the
reports tables and the status trigger), runs `reports_rebuild benchco` once and prints its
duration, then times the report page and its CSV over one year (grouped by day, agent and
label in turn) through the real URL routing, tenant middleware and session auth with
Django's test client, in process: the figures are server time.

The seeded messages span the 31 days before the seed ran and the seed sets no resolve
times, labels or agent senders, so the rollups hold ~31 days of opened conversations; the
page's cost does not depend on that: it reads one rollup row per day x (company, agents,
labels), summed by PostgreSQL (docs/reports.md). Target (issue #6): a year "well under a
second"; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inbox import SLUG, _percentile, _setup_env  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    if _setup_env(reuse=True) != "reused":
        raise SystemExit("No inbox benchmark database: run `python bench/inbox.py` once first.")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django_tenants.utils import schema_context

    from accounts.models import User
    from reports import services
    from reports.models import DailyStat

    call_command("collectstatic", interactive=False, verbosity=0)
    print("migrating (reports tables, status trigger) …", flush=True)
    call_command("migrate_schemas", interactive=False, verbosity=0)

    started = time.perf_counter()
    call_command("reports_rebuild", SLUG)
    rebuild_s = time.perf_counter() - started
    print(f"  rebuild: {rebuild_s:.1f} s", flush=True)
    with schema_context(SLUG):
        started = time.perf_counter()
        services.reports_rollup()
        incremental_s = time.perf_counter() - started
        last_day = DailyStat.objects.order_by("-day").values_list("day", flat=True).first()
        rollup_rows = DailyStat.objects.count()
        owner = User.objects.filter(role=User.Role.OWNER).order_by("id").first()
    print(f"  incremental run with nothing new: {incremental_s * 1000:.0f} ms; {rollup_rows} rollup rows", flush=True)
    if last_day is None or owner is None:
        raise SystemExit("The bench company has no rolled-up day or no owner.")
    start = last_day - timedelta(days=364)
    year = f"start={start.isoformat()}&end={last_day.isoformat()}"

    browser = Client(HTTP_HOST=f"{SLUG}.localhost")
    with schema_context(SLUG):
        browser.force_login(owner)
    connection.set_schema_to_public()
    groups = ("day", "agent", "label")

    def timed(name: str, make_request: Callable[[int], object], count: int) -> list[float]:
        for i in range(min(10, count)):  # warm up
            make_request(i)
        samples = []
        for i in range(count):
            began = time.perf_counter()
            response = make_request(i)
            samples.append((time.perf_counter() - began) * 1000)
            status = getattr(response, "status_code", 0)
            if status != 200:
                raise SystemExit(f"{name}: HTTP {status}: {getattr(response, 'content', b'')[:300]!r}")
        print(f"  {name}: p50 {statistics.median(samples):.2f} ms, p95 {_percentile(samples, 95):.2f} ms", flush=True)
        return samples

    page = timed("report page, one year", lambda i: browser.get(f"/reports/?{year}&group={groups[i % 3]}"), args.runs)
    csv = timed(
        "report CSV, one year", lambda i: browser.get(f"/reports/?{year}&group={groups[i % 3]}&format=csv"), args.runs
    )
    funnel = timed("broadcast funnel page", lambda i: browser.get("/reports/broadcasts/"), max(10, args.runs // 5))

    def queries(path: str) -> int:
        reset_queries()
        with CaptureQueriesContext(connection) as ctx:
            browser.get(path)
        return len([q for q in ctx.captured_queries if not q["sql"].startswith("SET search_path")])

    per_page = max(queries(f"/reports/?{year}&group={g}") for g in groups)
    print(f"  queries per page (most of day/agent/label): {per_page}", flush=True)
    print(
        json.dumps(
            {
                "report_p50_ms": round(statistics.median(page), 2),
                "report_p95_ms": round(_percentile(page, 95), 2),
                "report_csv_p50_ms": round(statistics.median(csv), 2),
                "report_csv_p95_ms": round(_percentile(csv, 95), 2),
                "funnel_p95_ms": round(_percentile(funnel, 95), 2),
                "rebuild_s": round(rebuild_s, 1),
                "incremental_idle_ms": round(incremental_s * 1000, 1),
                "queries_per_page": per_page,
                "rollup_rows": rollup_rows,
            }
        )
    )


if __name__ == "__main__":
    main()
