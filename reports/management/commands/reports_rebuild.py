"""`manage.py reports_rebuild <slug> [--since YYYY-MM-DD]`: recompute a company's rollups."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from reports import services
from tenants.models import Company


class Command(BaseCommand):
    help = "Recomputes a company's report rollups from its threads and messages (all, or from a day on)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="the company's slug")
        parser.add_argument("--since", help="company-local day YYYY-MM-DD: recompute only from this day on")

    def handle(self, *args: Any, **options: Any) -> None:
        company = Company.objects.filter(slug=options["slug"]).first()
        if company is None:
            raise CommandError(f"No company with slug {options['slug']!r}.")
        since_day = None
        if options["since"]:
            try:
                since_day = date.fromisoformat(options["since"])
            except ValueError as exc:
                raise CommandError(f"--since must be a date like 2026-01-31, not {options['since']!r}.") from exc
        started = time.perf_counter()
        with schema_context(company.schema_name):
            result = services.reports_rollup(rebuild=True, since_day=since_day)
        self.stdout.write(
            f"Rebuilt reports of {company.slug}: {result.threads} threads, {result.days} days, "
            f"{result.broadcasts} broadcasts in {time.perf_counter() - started:.1f} s."
        )
