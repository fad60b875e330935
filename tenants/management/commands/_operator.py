"""Shared bits of the operator commands (verify_company, suspend_company, approve_template)."""

from __future__ import annotations

import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.db import connection

from tenants.models import Company


def cli_actor_label() -> str:
    """Who ran the command, as the audit log names it: `cli:<os user>`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"


def company_for_command(slug: str) -> Company:
    """The live company with this slug, or a one-line CommandError."""
    connection.set_schema_to_public()
    company = (
        Company.objects.filter(slug=slug, status__in=[Company.Status.ACTIVE, Company.Status.SUSPENDED]).first()
        if slug
        else None
    )
    if company is None:
        raise CommandError(f"No company with the slug {slug!r}.")
    return company


def one_line(exc: ValidationError) -> str:
    return " ".join(exc.messages)
