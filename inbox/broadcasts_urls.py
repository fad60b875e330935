"""Broadcast pages, included at `broadcasts/` by config/urls_tenant.py."""

from __future__ import annotations

from django.urls import path

from inbox import views_broadcasts as views

app_name = "broadcasts"

urlpatterns = [
    path("", views.broadcast_list, name="broadcast_list"),
    path("new/", views.broadcast_new, name="broadcast_new"),
    path("new/template/", views.broadcast_template_part, name="broadcast_template_part"),
    path("<uuid:public_id>/", views.broadcast_detail, name="broadcast_detail"),
    path("<uuid:public_id>/progress/", views.broadcast_progress, name="broadcast_progress"),
    path("<uuid:public_id>/start/", views.broadcast_start, name="broadcast_start"),
    path("<uuid:public_id>/pause/", views.broadcast_pause, name="broadcast_pause"),
    path("<uuid:public_id>/resume/", views.broadcast_resume, name="broadcast_resume"),
    path("<uuid:public_id>/cancel/", views.broadcast_cancel, name="broadcast_cancel"),
    path("<uuid:public_id>/export.csv", views.broadcast_export, name="broadcast_export"),
]
