"""Settings → Webhooks pages, included at `settings/webhooks/` by config/urls_tenant.py."""

from __future__ import annotations

from django.urls import path

from inbox import views_settings_webhooks as views

urlpatterns = [
    path("", views.settings_webhooks, name="settings_webhooks"),
    path("<uuid:public_id>/", views.settings_webhook_detail, name="settings_webhook_detail"),
    path("<uuid:public_id>/toggle/", views.settings_webhook_toggle, name="settings_webhook_toggle"),
    path("<uuid:public_id>/rotate-secret/", views.settings_webhook_rotate, name="settings_webhook_rotate"),
    path("<uuid:public_id>/delete/", views.settings_webhook_delete, name="settings_webhook_delete"),
    path(
        "<uuid:public_id>/deliveries/<uuid:delivery_id>/replay/",
        views.settings_webhook_replay,
        name="settings_webhook_replay",
    ),
]
