"""The company's verified identity in pages (`{% load identity %}`)."""

from __future__ import annotations

from typing import Any

from django import template

from tenants import verification
from tenants.models import Company

register = template.Library()


@register.simple_tag
def company_identity(company: Company | None) -> dict[str, Any]:
    """What the company's messages would carry if sent now: name, badge, verified name."""
    return verification.sender_identity_snapshot(company=company)
