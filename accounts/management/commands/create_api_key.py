"""`manage.py create_api_key <slug> --name N`: an API key for a company, printed once.

The key is made in the company's schema by the same service as Settings → API keys. The
clear key is printed on the last line (scripts read it from there) and never stored.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from accounts import services
from tenants.models import Company


class Command(BaseCommand):
    help = "Make an API key for a company and print it, once, on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="The company's slug (its host is <slug>.<BASE_DOMAIN>).")
        parser.add_argument("--name", required=True, help="What the key is for, shown in Settings → API keys.")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        # Pool rows have no slug; a suspended company may get a key for when it is lifted.
        company = Company.objects.filter(
            slug=slug, status__in=[Company.Status.ACTIVE, Company.Status.SUSPENDED]
        ).first()
        if company is None:
            raise CommandError(f"No company with slug {slug!r}.")
        with schema_context(company.schema_name):
            try:
                issued = services.api_key_create(name=options["name"])
            except ValidationError as exc:
                raise CommandError(f"Cannot create the key: {' '.join(exc.messages)}") from exc
        self.stdout.write(
            f"Created API key {issued.api_key.name!r} (prefix {issued.api_key.prefix}) for {slug}. "
            "It is shown only this once:"
        )
        self.stdout.write(issued.key)
