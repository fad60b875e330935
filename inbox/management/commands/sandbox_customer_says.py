"""`manage.py sandbox_customer_says <slug> --from +49… --text …` (demos, sandbox provider).

Plays a customer's WhatsApp message to the company's first connected number: a real
webhook payload, stored and processed like a provider POST.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import schema_context

from inbox.models import PhoneNumber
from inbox.phones import phone_normalize
from inbox.providers import sandbox
from tenants.models import Company, PhoneNumberRoute


class Command(BaseCommand):
    help = "Play an inbound customer message (sandbox), processed like a provider webhook."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--from", dest="sender", required=True, help="the customer's number, E.164")
        parser.add_argument("--text", required=True)
        parser.add_argument("--name", default="", help="the customer's WhatsApp profile name")

    def handle(self, *args: Any, **options: Any) -> None:
        company = Company.objects.filter(slug=options["slug"]).first()
        if company is None:
            raise CommandError(f"Unknown company {options['slug']!r}.")
        try:
            sender = phone_normalize(options["sender"])
        except ValidationError as exc:
            raise CommandError(f"Invalid --from number {options['sender']!r}.") from exc
        routed = list(PhoneNumberRoute.objects.filter(company=company).values_list("phone_number_id", flat=True))
        with schema_context(company.schema_name):
            number = PhoneNumber.objects.filter(phone_number_id__in=routed).order_by("id").first()
        if number is None:
            raise CommandError(f"{company.slug} has no connected number (use connect_number first).")
        wamid = sandbox.customer_says(
            phone_number=number, sender=sender, text=options["text"], profile_name=options["name"]
        )
        self.stdout.write(f"{sender} said {options['text']!r} to {number.display_number} ({wamid}).")
