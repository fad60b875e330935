"""`manage.py connect_number <slug> --phone-number-id ID --display-number +49… [--access-token T]`.

Routes a provider number to the company; prints a confirmation on the last line. Bad
input (unknown company, a number connected already, a malformed id or number) exits
non-zero with a one-line reason and changes nothing. Without an access token (fine for the
sandbox) a warning goes to stderr when the Cloud API is configured (WHATSAPP_API_BASE).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.errors import PlanLimitExceeded
from inbox.services import numbers
from tenants.models import Company


class Command(BaseCommand):
    help = "Route a provider phone number (phone_number_id) to a company."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--phone-number-id", required=True)
        parser.add_argument("--display-number", required=True)
        parser.add_argument("--access-token", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["slug"]
        company = Company.objects.filter(
            slug=slug, status__in=[Company.Status.ACTIVE, Company.Status.SUSPENDED]
        ).first()
        if company is None:
            raise CommandError(f"Unknown company {slug!r}.")
        try:
            number = numbers.phone_number_connect(
                company=company,
                phone_number_id=options["phone_number_id"],
                display_number=options["display_number"],
                access_token=options["access_token"],
            )
        except ValidationError as exc:
            reasons = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError(f"Cannot connect the number to {slug!r}: {reasons}") from exc
        except PlanLimitExceeded as exc:
            raise CommandError(f"Cannot connect the number to {slug!r}: {exc.message}") from exc
        if not number.access_token and settings.WHATSAPP_API_BASE:
            # Sent without an Authorization header, the provider refuses them (recorded as failed).
            self.stderr.write(
                "Warning: no access token; the WhatsApp Cloud API will refuse this number's sends "
                "until it is connected again with --access-token."
            )
        self.stdout.write(
            f"Connected {number.display_number} (phone_number_id {number.phone_number_id}) to {company.slug}."
        )
