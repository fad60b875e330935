"""URLs of the public host: landing page, signup, operator admin, health, provider webhook."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from tenants import views, webhook

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signup/", views.signup, name="signup"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("webhooks/whatsapp/", webhook.whatsapp_webhook, name="whatsapp_webhook"),
    path("verify/", views.verify_page, name="verify"),
    path("api/public/verify", views.verify_api, name="verify_api"),
]

handler400 = "config.api.handler400"
handler403 = "config.api.handler403"
handler404 = "config.api.handler404"
handler500 = "config.api.handler500"
