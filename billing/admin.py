from __future__ import annotations

from django.contrib import admin

from billing.models import Plan


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "max_agents", "max_phone_numbers", "api_requests_per_minute"]
    search_fields = ["code", "name"]
