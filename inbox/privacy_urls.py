"""Settings → Privacy, included at `settings/privacy/` by config/urls_tenant.py."""

from __future__ import annotations

from django.urls import path

from inbox import views_privacy

urlpatterns = [
    path("", views_privacy.settings_privacy, name="settings_privacy"),
]
