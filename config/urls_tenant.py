"""URLs of a company's host: the agents' pages, the REST API, health."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from tenants import views as tenant_views

urlpatterns = [
    path("healthz", tenant_views.healthz, name="healthz"),
    path("", include("accounts.urls")),
    path("inbox/", include("inbox.urls")),
    path("broadcasts/", include("inbox.broadcasts_urls")),
    path("reports/", include("reports.urls")),
    path("settings/webhooks/", include("inbox.webhooks_urls")),
    path("settings/business/", tenant_views.settings_business, name="settings_business"),
    path("settings/", include("inbox.library_urls")),
    path("settings/numbers/", include("inbox.numbers_urls")),
    path("settings/satisfaction/", include("inbox.csat_urls")),
    path("settings/privacy/", include("inbox.privacy_urls")),
    path("settings/billing/", include("billing.urls")),
    path("settings/automation/", include("automation.urls")),
    path("api/v1/", include("inbox.api.urls")),
    path("api/v1/", include("automation.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api_schema"), name="api_docs"),
]

handler400 = "config.api.handler400"
handler403 = "config.api.handler403"
handler404 = "config.api.handler404"
handler500 = "config.api.handler500"
