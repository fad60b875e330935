"""Operator admin (public host). Pool rows (`building`/`pooled`) are plumbing and not listed."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from tenants.models import Company, Domain

POOL_STATUSES = (Company.Status.BUILDING, Company.Status.POOLED)


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0
    fields = ["domain", "is_primary"]


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "plan", "status", "provisioned_at"]
    list_filter = ["status", "plan"]
    search_fields = ["slug", "name", "domains__domain"]
    readonly_fields = ["schema_name", "slug", "created_at", "provisioned_at", "updated_at"]
    fields = [
        "name", "slug", "schema_name", "plan", "status", "suspended_reason",
        "created_at", "provisioned_at", "updated_at",
    ]  # fmt: skip
    inlines = [DomainInline]
    list_select_related = ["plan"]
    ordering = ["-provisioned_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Company]:
        return super().get_queryset(request).exclude(status__in=POOL_STATUSES)

    # Companies are made by signup or `create_company` (one provisioning service), and a
    # deletion would drop a schema full of customer data: neither belongs behind a button.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Company | None = None) -> bool:
        return False


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "tenant", "is_primary"]
    list_filter = ["is_primary"]
    search_fields = ["domain", "tenant__slug", "tenant__name"]
    list_select_related = ["tenant"]
    autocomplete_fields = ["tenant"]
