from __future__ import annotations

from dataclasses import dataclass

from tenants.models import BusinessProfile, Company, PhoneNumberRoute


def company_schema_names_live() -> list[str]:
    """Schemas of companies that hold data (active or suspended), oldest first."""
    return list(
        Company.objects.filter(status__in=[Company.Status.ACTIVE, Company.Status.SUSPENDED])
        .order_by("id")
        .values_list("schema_name", flat=True)
    )


def business_profile_get(*, company: Company) -> BusinessProfile | None:
    """The company's business profile, or None before it ever submitted details."""
    return BusinessProfile.objects.filter(company_id=company.pk).first()


def company_is_verified(*, company: Company) -> bool:
    """True while an operator's verification of the company's business details stands.

    Works from any schema: the profile lives in the public schema, which every tenant's
    search_path also reaches.
    """
    return BusinessProfile.objects.filter(company_id=company.pk, state=BusinessProfile.State.VERIFIED).exists()


def company_verified_name(*, company: Company) -> str | None:
    """The display name an operator verified (what customers may trust), or None."""
    name = (
        BusinessProfile.objects.filter(company_id=company.pk, state=BusinessProfile.State.VERIFIED)
        .values_list("verified_display_name", flat=True)
        .first()
    )
    return name or None


@dataclass(frozen=True)
class NumberVerification:
    """What the public check says about one number (API.md "Public")."""

    company_id: int | None  # the company the number is routed to, verified or not
    profile: BusinessProfile | None  # set only when that company is verified and active


def number_verification_get(*, phone: str) -> NumberVerification:
    """Which company a business number (E.164) belongs to, and its verified identity.

    Only the names an operator verified are returned, never what a company typed since.
    A suspended company is not vouched for. When the same display number is routed to
    more than one company (possible with test numbers), nobody is vouched for: the page
    must never pick one of two claimants.
    """
    company_ids = set(PhoneNumberRoute.objects.filter(display_number=phone).values_list("company_id", flat=True))
    if len(company_ids) != 1:
        return NumberVerification(company_id=None, profile=None)
    (company_id,) = company_ids
    profile = (
        BusinessProfile.objects.select_related("company")
        .filter(
            company_id=company_id,
            state=BusinessProfile.State.VERIFIED,
            company__status=Company.Status.ACTIVE,
        )
        .first()
    )
    return NumberVerification(company_id=company_id, profile=profile)
