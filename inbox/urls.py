"""The agents' browser inbox, below /inbox/ on a company host."""

from __future__ import annotations

from django.urls import path

from inbox import views, views_privacy, views_scheduled

app_name = "inbox"

urlpatterns = [
    path("", views.thread_list, name="thread_list"),
    path("updates/", views.thread_list_updates, name="thread_list_updates"),
    path("threads/<uuid:public_id>/", views.thread_detail, name="thread_detail"),
    path("threads/<uuid:public_id>/messages/", views.thread_messages_older, name="thread_messages_older"),
    path("threads/<uuid:public_id>/updates/", views.thread_updates, name="thread_updates"),
    path("threads/<uuid:public_id>/typing/", views.thread_typing, name="thread_typing"),
    path("threads/<uuid:public_id>/reply/", views.thread_reply, name="thread_reply"),
    path("threads/<uuid:public_id>/reply-template/", views.thread_reply_template, name="thread_reply_template"),
    path("threads/<uuid:public_id>/notes/", views.thread_note, name="thread_note"),
    path("threads/<uuid:public_id>/assign/", views.thread_assign, name="thread_assign"),
    path("threads/<uuid:public_id>/status/", views.thread_status, name="thread_status"),
    path("threads/<uuid:public_id>/labels/", views.thread_labels, name="thread_labels"),
    path("threads/<uuid:public_id>/schedule/", views_scheduled.thread_schedule, name="thread_schedule"),
    path(
        "threads/<uuid:public_id>/scheduled/<uuid:message_id>/cancel/",
        views_scheduled.scheduled_cancel,
        name="scheduled_cancel",
    ),
    # Privacy (GDPR) and merge: inbox/views_privacy.py.
    path("threads/<uuid:public_id>/merge/", views_privacy.thread_merge_pick, name="thread_merge"),
    path(
        "threads/<uuid:public_id>/merge/<uuid:into_id>/",
        views_privacy.thread_merge_confirm,
        name="thread_merge_confirm",
    ),
    path("contacts/<uuid:public_id>/export/", views_privacy.contact_export, name="contact_export"),
    path("contacts/<uuid:public_id>/erase/", views_privacy.contact_erase, name="contact_erase"),
    path("contacts/<uuid:public_id>/merge/", views_privacy.contact_merge_pick, name="contact_merge"),
    path(
        "contacts/<uuid:public_id>/merge/<uuid:from_id>/",
        views_privacy.contact_merge_confirm,
        name="contact_merge_confirm",
    ),
]
