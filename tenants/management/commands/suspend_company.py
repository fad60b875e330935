"""`manage.py suspend_company <slug> [--lift]`: suspend a company, or lift its suspension.

A suspended company's pages and API answer 403; inbound customer messages are still
stored. Exits non-zero with a one-line reason (unknown company, already suspended, not
suspended) and changes nothing then. Audited with the actor `cli:<os user>`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_lazy as _

from tenants import operator
from tenants.management.commands._operator import cli_actor_label, company_for_command, one_line

DEFAULT_REASON = _("Suspended by an operator.")


class Command(BaseCommand):
    help = "Suspend a company (its web and API answer 403), or lift the suspension with --lift."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--lift", action="store_true", help="lift the suspension")
        parser.add_argument("--reason", default=DEFAULT_REASON, help="recorded with the suspension")

    def handle(self, *args: Any, **options: Any) -> None:
        company = company_for_command(options["slug"])
        label = cli_actor_label()
        try:
            if options["lift"]:
                operator.company_unsuspend(company=company, actor=None, actor_label=label)
                self.stdout.write(f"Lifted the suspension of {company.slug}.")
            else:
                operator.company_suspend(company=company, actor=None, reason=options["reason"], actor_label=label)
                self.stdout.write(f"Suspended {company.slug}.")
        except operator.OperatorActionError as exc:
            raise CommandError(str(exc)) from exc
        except ValidationError as exc:
            raise CommandError(one_line(exc)) from exc
