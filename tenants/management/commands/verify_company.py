"""`manage.py verify_company <slug> [--reject "reason"]`: decide a company's pending business details.

Exits non-zero with a one-line reason (unknown company, details not pending review, empty
reason) and changes nothing then. Audited with the actor `cli:<os user>`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants import verification
from tenants.management.commands._operator import cli_actor_label, company_for_command, one_line


class Command(BaseCommand):
    help = "Verify a company's pending business details, or reject them with --reject REASON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--reject", metavar="REASON", default=None, help="reject, telling the company why")

    def handle(self, *args: Any, **options: Any) -> None:
        company = company_for_command(options["slug"])
        label = cli_actor_label()
        try:
            if options["reject"] is not None:
                verification.company_verification_reject(
                    company=company, actor=None, reason=options["reject"], actor_label=label
                )
                self.stdout.write(f"Rejected the business details of {company.slug}.")
            else:
                profile = verification.company_verify(company=company, actor=None, actor_label=label)
                self.stdout.write(f"Verified {company.slug} as {profile.verified_display_name!r}.")
        except verification.VerificationStateError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError(one_line(exc)) from exc
