"""Settings → Numbers pages, included at `settings/numbers/` by config/urls_tenant.py."""

from __future__ import annotations

from django.urls import path

from inbox import views_settings_numbers as views

urlpatterns = [
    path("", views.settings_numbers, name="settings_numbers"),
    path("<uuid:public_id>/disconnect/", views.settings_number_disconnect, name="settings_number_disconnect"),
]
