from __future__ import annotations

from tenants.models import Company


def company_schema_names_live() -> list[str]:
    """Schemas of companies that hold data (active or suspended), oldest first."""
    return list(
        Company.objects.filter(status__in=[Company.Status.ACTIVE, Company.Status.SUSPENDED])
        .order_by("id")
        .values_list("schema_name", flat=True)
    )
