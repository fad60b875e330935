from __future__ import annotations

from django.urls import path

from inbox.api import views

urlpatterns = [
    path("me", views.MeApi.as_view(), name="api_me"),
]
