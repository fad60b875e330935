"""Automation's REST API, included at `api/v1/` by config/urls_tenant.py."""

from __future__ import annotations

from django.urls import path

from automation import api
from inbox.api.common import route

urlpatterns = [
    path("automation", route(api.AutomationDetailApi, api.AutomationUpdateApi), name="api_automation"),
    path(
        "business-hours",
        route(api.BusinessHoursDetailApi, api.BusinessHoursUpdateApi),
        name="api_business_hours",
    ),
]
