"""Settings → Satisfaction, included at `settings/satisfaction/` by config/urls_tenant.py."""

from __future__ import annotations

from django.urls import path

from inbox import views_settings_csat

urlpatterns = [
    path("", views_settings_csat.settings_csat, name="settings_csat"),
]
