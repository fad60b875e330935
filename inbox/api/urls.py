from __future__ import annotations

from django.urls import path

from billing.api import UsageApi
from inbox.api import (
    broadcasts,
    clicktochat,
    contacts,
    csat,
    messages,
    phone_numbers,
    privacy,
    templates,
    threads,
    uploads,
    views,
)
from inbox.api import webhooks as webhook_views
from inbox.api.common import route

urlpatterns = [
    path("me", views.MeApi.as_view(), name="api_me"),
    path("usage", UsageApi.as_view(), name="api_usage"),
    path(
        "webhooks/",
        route(webhook_views.WebhookListApi, webhook_views.WebhookCreateApi),
        name="api_webhooks",
    ),
    path(
        "webhooks/<uuid:id>/",
        route(webhook_views.WebhookUpdateApi, webhook_views.WebhookDeleteApi),
        name="api_webhook_detail",
    ),
    path(
        "webhooks/<uuid:id>/rotate-secret/",
        webhook_views.WebhookRotateSecretApi.as_view(),
        name="api_webhook_rotate_secret",
    ),
    path(
        "webhooks/<uuid:id>/deliveries/",
        webhook_views.WebhookDeliveryListApi.as_view(),
        name="api_webhook_deliveries",
    ),
    path(
        "webhooks/<uuid:id>/deliveries/<uuid:delivery_id>/replay/",
        webhook_views.WebhookDeliveryReplayApi.as_view(),
        name="api_webhook_delivery_replay",
    ),
]

# Contacts, threads, messages, phone numbers, templates: one view per operation; `route`
# serves several operations' views on one URL.
urlpatterns += [
    path("contacts/", route(contacts.ContactListApi, contacts.ContactCreateApi), name="api_contacts"),
    path(
        "contacts/<uuid:id>/",
        route(contacts.ContactDetailApi, contacts.ContactUpdateApi, contacts.ContactDeleteApi),
        name="api_contact_detail",
    ),
    path(
        "contacts/<uuid:id>/consent/",
        route(contacts.ConsentListApi, contacts.ConsentCreateApi),
        name="api_contact_consent",
    ),
    path("threads/", threads.ThreadListApi.as_view(), name="api_threads"),
    path("threads/<uuid:id>/", route(threads.ThreadDetailApi, threads.ThreadUpdateApi), name="api_thread_detail"),
    path("threads/<uuid:id>/assign/", threads.ThreadAssignApi.as_view(), name="api_thread_assign"),
    path("threads/<uuid:id>/messages/", threads.ThreadMessageListApi.as_view(), name="api_thread_messages"),
    path("threads/<uuid:id>/notes/", route(threads.NoteListApi, threads.NoteCreateApi), name="api_thread_notes"),
    path("messages/", messages.MessageSendApi.as_view(), name="api_messages"),
    path("messages/<uuid:id>/", messages.MessageDetailApi.as_view(), name="api_message_detail"),
    path("messages/<uuid:id>/cancel/", messages.MessageCancelApi.as_view(), name="api_message_cancel"),
    path(
        "phone-numbers/",
        route(phone_numbers.PhoneNumberListApi, phone_numbers.PhoneNumberConnectApi),
        name="api_phone_numbers",
    ),
    path(
        "phone-numbers/<uuid:id>/",
        phone_numbers.PhoneNumberDisconnectApi.as_view(),
        name="api_phone_number_detail",
    ),
    path(
        "phone-numbers/<uuid:id>/click-to-chat/",
        clicktochat.ClickToChatApi.as_view(),
        name="api_click_to_chat",
    ),
    path(
        "phone-numbers/<uuid:id>/click-to-chat/qr-svg/",
        clicktochat.ClickToChatSvgApi.as_view(),
        name="api_click_to_chat_svg",
    ),
    path(
        "phone-numbers/<uuid:id>/click-to-chat/qr-png/",
        clicktochat.ClickToChatPngApi.as_view(),
        name="api_click_to_chat_png",
    ),
    path("settings/csat/", route(csat.CsatSettingsApi, csat.CsatSettingsUpdateApi), name="api_csat_settings"),
    path("templates/", route(templates.TemplateListApi, templates.TemplateCreateApi), name="api_templates"),
    path("templates/<uuid:id>/", templates.TemplateDetailApi.as_view(), name="api_template_detail"),
    path("templates/<uuid:id>/submit/", templates.TemplateSubmitApi.as_view(), name="api_template_submit"),
]

# Broadcasts and their CSV audiences (design/API.md "Broadcasts").
urlpatterns += [
    path("broadcasts/", route(broadcasts.BroadcastListApi, broadcasts.BroadcastCreateApi), name="api_broadcasts"),
    path("broadcasts/<uuid:id>/", broadcasts.BroadcastDetailApi.as_view(), name="api_broadcast_detail"),
    path("broadcasts/<uuid:id>/dry-run/", broadcasts.BroadcastDryRunApi.as_view(), name="api_broadcast_dry_run"),
    path("broadcasts/<uuid:id>/start/", broadcasts.BroadcastStartApi.as_view(), name="api_broadcast_start"),
    path("broadcasts/<uuid:id>/pause/", broadcasts.BroadcastPauseApi.as_view(), name="api_broadcast_pause"),
    path("broadcasts/<uuid:id>/resume/", broadcasts.BroadcastResumeApi.as_view(), name="api_broadcast_resume"),
    path("broadcasts/<uuid:id>/cancel/", broadcasts.BroadcastCancelApi.as_view(), name="api_broadcast_cancel"),
    path(
        "broadcasts/<uuid:id>/recipients/",
        broadcasts.BroadcastRecipientListApi.as_view(),
        name="api_broadcast_recipients",
    ),
    path("uploads/", uploads.UploadCreateApi.as_view(), name="api_uploads"),
]

# Privacy (GDPR) and merge (docs/api.md "Privacy and merge").
urlpatterns += [
    path("contacts/<uuid:id>/export/", privacy.ContactExportApi.as_view(), name="api_contact_export"),
    path("contacts/<uuid:id>/erase/", privacy.ContactEraseApi.as_view(), name="api_contact_erase"),
    path("contacts/<uuid:id>/merge/", privacy.ContactMergeApi.as_view(), name="api_contact_merge"),
    path("threads/<uuid:id>/merge/", privacy.ThreadMergeApi.as_view(), name="api_thread_merge"),
    path(
        "settings/privacy/",
        route(privacy.PrivacySettingsApi, privacy.PrivacySettingsUpdateApi),
        name="api_privacy_settings",
    ),
]
