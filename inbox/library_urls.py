"""Settings → Labels and Canned replies, included at `settings/` by config/urls_tenant.py."""

from __future__ import annotations

from django.urls import path

from inbox import views_settings_library as views

urlpatterns = [
    path("labels/", views.settings_labels, name="settings_labels"),
    path("labels/<uuid:public_id>/", views.settings_label_update, name="settings_label_update"),
    path("labels/<uuid:public_id>/delete/", views.settings_label_delete, name="settings_label_delete"),
    path("canned-replies/", views.settings_canned_replies, name="settings_canned_replies"),
    path("canned-replies/new/", views.settings_canned_reply_create, name="settings_canned_reply_create"),
    path("canned-replies/<uuid:public_id>/", views.settings_canned_reply_update, name="settings_canned_reply_update"),
    path(
        "canned-replies/<uuid:public_id>/delete/",
        views.settings_canned_reply_delete,
        name="settings_canned_reply_delete",
    ),
]
