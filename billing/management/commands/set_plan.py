"""`manage.py set_plan <slug> <plan code>`: move a company to another plan now.

The operator console's "change plan" for scripts: the same service (billing.services.plan_change),
audited with the actor `cli:<os user>`. Exits non-zero with a one-line reason (unknown company
or plan, already on that plan, a downgrade below what the company uses) and changes nothing then.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing import selectors, services
from billing.errors import PlanChangeRefused, PlanNotFoundError
from tenants.management.commands._operator import cli_actor_label, company_for_command


class Command(BaseCommand):
    help = "Move a company to another plan (e.g. free or enterprise), audited."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("plan", help="the plan's code: free, enterprise, or one an operator added")

    def handle(self, *args: Any, **options: Any) -> None:
        company = company_for_command(options["slug"])
        try:
            plan = selectors.plan_get(code=options["plan"])
        except PlanNotFoundError as exc:
            codes = ", ".join(selectors.plan_list().values_list("code", flat=True))
            raise CommandError(f"{exc} Known plans: {codes}.") from exc
        try:
            services.plan_change(company=company, plan=plan, actor=None, actor_label=cli_actor_label())
        except PlanChangeRefused as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"{company.slug} is on the {plan.name} plan now.")
