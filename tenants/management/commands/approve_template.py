"""`manage.py approve_template <slug> <name> <language> [--reject "reason"]`: decide a pending template.

Exits non-zero with a one-line reason (unknown company or template, template not pending
review, empty reason) and changes nothing then. Audited with the actor `cli:<os user>`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenants import operator
from tenants.management.commands._operator import cli_actor_label, company_for_command, one_line


class Command(BaseCommand):
    help = "Approve a company's pending template, or reject it with --reject REASON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("name")
        parser.add_argument("language")
        parser.add_argument("--reject", metavar="REASON", default=None, help="reject, telling the company why")

    def handle(self, *args: Any, **options: Any) -> None:
        company = company_for_command(options["slug"])
        approve = options["reject"] is None
        try:
            template = operator.template_review_decide(
                company=company,
                name=options["name"],
                language=options["language"],
                approve=approve,
                reason=options["reject"] or "",
                actor=None,
                actor_label=cli_actor_label(),
            )
        except operator.OperatorActionError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError(one_line(exc)) from exc
        verb = "Approved" if approve else "Rejected"
        self.stdout.write(f"{verb} template {template.name} ({template.language}) of {company.slug}.")
