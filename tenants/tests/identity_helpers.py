"""Helpers for the identity and operator tests: business details through the real services."""

from __future__ import annotations

from typing import Any

from tenants import verification
from tenants.models import BusinessProfile, Company

DETAILS: dict[str, Any] = {
    "legal_name": "Acme Pizza GmbH",
    "display_name": "Acme Pizza",
    "website": "https://acme.example",
    "registration_number": "HRB 12345",
    "address": "Pizzastraße 1, 10115 Berlin",
}


def submit(company: Company, **overrides: Any) -> BusinessProfile:
    return verification.business_profile_submit(company=company, submitted_by=None, **{**DETAILS, **overrides})


def verified(company: Company, **overrides: Any) -> BusinessProfile:
    submit(company, **overrides)
    return verification.company_verify(company=company, actor=None, actor_label="test")
