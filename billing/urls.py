"""Settings → Billing, included at `settings/billing/` by config/urls_tenant.py."""

from __future__ import annotations

from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("", views.billing_overview, name="overview"),
    path("plan/", views.billing_plan_request, name="plan_request"),
    path("invoices/<int:number>/", views.invoice_detail, name="invoice_detail"),
    path("invoices/<int:number>.pdf", views.invoice_pdf, name="invoice_pdf"),
]
