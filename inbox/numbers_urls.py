"""Settings → Numbers pages, included at `settings/numbers/` by config/urls_tenant.py."""

from __future__ import annotations

from django.urls import path

from inbox import views_clicktochat
from inbox import views_settings_numbers as views

urlpatterns = [
    path("", views.settings_numbers, name="settings_numbers"),
    path("<uuid:public_id>/disconnect/", views.settings_number_disconnect, name="settings_number_disconnect"),
    path(
        "<uuid:public_id>/click-to-chat/",
        views_clicktochat.settings_number_click_to_chat,
        name="settings_number_click_to_chat",
    ),
    path(
        "<uuid:public_id>/click-to-chat/qr.svg", views_clicktochat.settings_number_qr_svg, name="settings_number_qr_svg"
    ),
    path(
        "<uuid:public_id>/click-to-chat/qr.png", views_clicktochat.settings_number_qr_png, name="settings_number_qr_png"
    ),
]
