"""Report pages, included at `reports/` by config/urls_tenant.py."""

from __future__ import annotations

from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.report_overview, name="overview"),
    path("broadcasts/", views.report_broadcasts, name="broadcasts"),
]
