"""Operator admin (public host): plans and rate cards are edited here; the ledger and invoices
are read-only; plan-change requests are approved or rejected by actions (audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.html import format_html

from billing import pdf, services
from billing.errors import PlanChangeRefused
from billing.models import Invoice, InvoiceLine, Plan, PlanChangeRequest, RatePrice, Subscription, UsageRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written by services only: operators look, never edit or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RatePriceInline(admin.TabularInline):
    model = RatePrice
    extra = 1
    fields = ["category", "market", "unit_price"]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "code", "name", "monthly_fee", "max_agents", "max_phone_numbers", "max_broadcast_recipients",
        "max_business_initiated_per_day", "api_requests_per_minute", "outgoing_webhooks",
    ]  # fmt: skip
    search_fields = ["code", "name"]
    inlines = [RatePriceInline]
    fieldsets = [
        (None, {"fields": ["code", "name", "description"]}),
        ("Price", {"fields": ["monthly_fee"], "description": "EUR per month; messages: the rate card below."}),
        (
            "Limits (empty = unlimited)",
            {
                "fields": [
                    "max_agents", "max_phone_numbers", "max_broadcast_recipients", "max_business_initiated_per_day",
                    "unverified_broadcast_cap", "api_requests_per_minute", "outgoing_webhooks",
                ]
            },
        ),
    ]  # fmt: skip

    def has_delete_permission(self, request: HttpRequest, obj: Plan | None = None) -> bool:
        # A plan in use (by companies, the ledger or invoices) is protected by the database too.
        return obj is None or not obj.companies.exists()


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = ["company", "plan", "started_at", "ended_at"]
    list_filter = ["plan"]
    search_fields = ["company__slug", "company__name"]
    list_select_related = ["company", "plan"]


@admin.register(PlanChangeRequest)
class PlanChangeRequestAdmin(ReadOnlyAdmin):
    list_display = ["company", "current_plan", "plan", "requested_by", "status", "created_at", "decided_by", "reason"]
    list_filter = ["status", "plan"]
    search_fields = ["company__slug", "company__name", "requested_by"]
    list_select_related = ["company", "company__plan", "plan"]
    actions = ["approve", "reject"]

    @admin.display(description="Current plan")
    def current_plan(self, obj: PlanChangeRequest) -> str:
        return str(obj.company.plan or "—")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_staff  # the actions need it; the form itself is read-only

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    @admin.action(description="Approve: change the plan (refused if the company uses too much)")
    def approve(self, request: HttpRequest, queryset: QuerySet[PlanChangeRequest]) -> None:
        for change in queryset.filter(status=PlanChangeRequest.Status.PENDING):
            try:
                done = services.plan_request_approve(request=change, actor=request.user)
            except PlanChangeRefused as exc:
                self.message_user(request, f"{change.company}: {exc.message}", messages.ERROR)
                continue
            if done.status == PlanChangeRequest.Status.APPROVED:
                self.message_user(request, f"{change.company} is on {change.plan} now.", messages.SUCCESS)
            else:
                self.message_user(request, f"{change.company}: refused: {done.reason}", messages.ERROR)

    @admin.action(description="Reject")
    def reject(self, request: HttpRequest, queryset: QuerySet[PlanChangeRequest]) -> None:
        for change in queryset.filter(status=PlanChangeRequest.Status.PENDING):
            services.plan_request_reject(request=change, actor=request.user, reason="Refused by an operator.")
            self.message_user(request, f"{change.company}: request rejected.", messages.WARNING)


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyAdmin):
    list_display = ["booked_at", "company", "category", "market", "unit_price", "charged", "reason", "message_id"]
    list_filter = ["category", "charged", "reason"]
    search_fields = ["company__slug", "message_id"]
    list_select_related = ["company"]
    date_hierarchy = "booked_at"


class InvoiceLineInline(admin.TabularInline):
    model = InvoiceLine
    extra = 0
    fields = ["position", "kind", "description", "category", "quantity", "unit_price", "amount"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["display_number", "company", "period_start", "total", "currency", "issued_at", "pdf_link"]
    list_filter = ["period_start"]
    search_fields = ["company__slug", "company__name", "number"]
    list_select_related = ["company"]
    inlines = [InvoiceLineInline]

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_staff

    @admin.display(description="PDF")
    def pdf_link(self, obj: Invoice) -> str:
        return format_html('<a href="{}">PDF</a>', reverse("admin:billing_invoice_pdf", args=[obj.pk]))

    def get_urls(self) -> list[Any]:
        extra = [path("<int:pk>/pdf/", self.admin_site.admin_view(self.pdf_view), name="billing_invoice_pdf")]
        return extra + super().get_urls()

    def pdf_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        invoice = Invoice.objects.get(pk=pk)
        response = HttpResponse(pdf.invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice.display_number}.pdf"'
        return response
