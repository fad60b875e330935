"""The agents' browser pages on a company host."""

from __future__ import annotations

from django.urls import path

from accounts import views, views_profile

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("password-reset/done/", views.password_reset_done, name="password_reset_done"),
    path("reset/<uidb64>/<token>/", views.password_reset_confirm, name="password_reset_confirm"),
    path("reset/done/", views.password_reset_complete, name="password_reset_complete"),
    path("invite/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("settings/", views.settings_index, name="settings"),
    path("profile/", views_profile.profile, name="profile"),
    path("settings/team/", views.settings_team, name="settings_team"),
    path("settings/team/invite/", views.agent_invite, name="agent_invite"),
    path("settings/team/<uuid:public_id>/deactivate/", views.agent_deactivate, name="agent_deactivate"),
    path("settings/team/<uuid:public_id>/reactivate/", views.agent_reactivate, name="agent_reactivate"),
    path(
        "settings/team/invitations/<uuid:public_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("settings/api-keys/", views.settings_api_keys, name="settings_api_keys"),
    path("settings/api-keys/<uuid:public_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
