"""`manage.py create_company <slug> --name … --plan free|enterprise --owner-email E --owner-password P`.

Provisions a company through the same service as signup and prints its host on the last
line. Operators are trusted with the owner's initial password, so Django's password
validators (which signup applies) are not enforced here.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.errors import PlanNotFoundError
from tenants import services


class Command(BaseCommand):
    help = "Provision a company (schema, host, owner) and print its host on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--plan", required=True, choices=["free", "enterprise"])
        parser.add_argument("--owner-email", required=True)
        parser.add_argument("--owner-password", required=True)
        parser.add_argument("--owner-name", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["owner_password"]:
            raise CommandError("--owner-password must not be empty.")
        try:
            company = services.company_create(
                slug=options["slug"],
                name=options["name"],
                plan_code=options["plan"],
                owner_email=options["owner_email"],
                owner_name=options["owner_name"],
                owner_password=options["owner_password"],
            )
        except ValidationError as exc:
            reasons = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError(f"Cannot create company {options['slug']!r}: {reasons}") from exc
        except PlanNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Created company {company.name!r} on plan {options['plan']} with owner {options['owner_email']}."
        )
        self.stdout.write(services.company_host(company))
