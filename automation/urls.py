"""Settings → Automation, included at `settings/automation/` by config/urls_tenant.py."""

from __future__ import annotations

from django.urls import path

from automation import views

urlpatterns = [
    path("", views.settings_automation, name="settings_automation"),
    path("hours/", views.settings_business_hours, name="settings_business_hours"),
    path("agents/<uuid:public_id>/", views.settings_automation_agent, name="settings_automation_agent"),
    path("availability/", views.availability_set, name="automation_availability"),
]
