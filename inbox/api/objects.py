"""The API objects as OpenAPI components (design/API.md "Resources").

Documentation only: the bodies themselves are built by `inbox.representations`, which the
outgoing webhooks share. `inbox/tests/test_api_objects.py` checks the two agree field for
field.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from inbox.models import ConsentEvent, Message, Template, Thread


@extend_schema_serializer(component_name="AgentBrief")
class AgentBriefObject(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField()


@extend_schema_serializer(component_name="Contact")
class ContactObject(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    phone = serializers.CharField(help_text="E.164, e.g. `+4915112345678`.")
    name = serializers.CharField(help_text="The name given by the business, else the customer's WhatsApp name.")
    attributes = serializers.DictField(help_text="Names to text, number or true/false values.")
    labels = serializers.ListField(child=serializers.CharField(), help_text="Label names, sorted.")
    opted_in = serializers.BooleanField(help_text="The latest all-purpose consent event is an opt-in.")
    opted_out = serializers.BooleanField(help_text="The latest all-purpose consent event is an opt-out (STOP …).")
    marketing_opted_out = serializers.BooleanField(help_text="The latest marketing consent event is an opt-out.")
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="ContactBrief")
class ContactBriefObject(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    phone = serializers.CharField()
    name = serializers.CharField()


@extend_schema_serializer(component_name="ConsentEvent")
class ConsentEventObject(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    action = serializers.ChoiceField(choices=ConsentEvent.Action.values)
    purpose = serializers.ChoiceField(choices=ConsentEvent.Purpose.values)
    source = serializers.CharField(help_text="Where the consent came from: `api`, `keyword`, `agent`, `csv` …")
    detail = serializers.CharField(help_text="What was shown or said, e.g. the keyword received.")
    recorded_by = AgentBriefObject(allow_null=True, help_text="The agent who recorded it; null for the API.")
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="PhoneNumberBrief")
class PhoneNumberBriefObject(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    display_number = serializers.CharField()


@extend_schema_serializer(component_name="Thread")
class ThreadObject(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    contact = ContactBriefObject()
    phone_number = PhoneNumberBriefObject()
    # `.choices` (with labels), not `.values`: a choice set differing from ThreadUpdateInput's
    # gets its own enum name (ThreadStatusEnum) instead of a hash-suffixed shared one.
    status = serializers.ChoiceField(choices=Thread.Status.choices)
    assignee = AgentBriefObject(allow_null=True)
    labels = serializers.ListField(child=serializers.CharField())
    unread = serializers.IntegerField(help_text="Inbound messages no agent has read yet.")
    last_message_at = serializers.DateTimeField(allow_null=True)
    window_expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When the 24-hour window closes; null when the customer never wrote."
    )
    snoozed_until = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    csat_rating = serializers.IntegerField(
        allow_null=True, help_text="The customer's latest satisfaction rating (1-5); null when none."
    )
    csat_rated_at = serializers.DateTimeField(allow_null=True)


@extend_schema_serializer(component_name="MessageTemplateUse")
class MessageTemplateObject(serializers.Serializer[Any]):
    name = serializers.CharField()
    language = serializers.CharField()
    parameters = serializers.JSONField(help_text="A list (positional) or an object (named).")
    category = serializers.CharField()


@extend_schema_serializer(component_name="MessageMedia")
class MessageMediaObject(serializers.Serializer[Any]):
    mime_type = serializers.CharField()
    filename = serializers.CharField()
    caption = serializers.CharField()
    status = serializers.CharField(allow_null=True, help_text="`pending`, `ready` or `failed` (received media).")
    url = serializers.CharField(allow_null=True)


@extend_schema_serializer(component_name="MessageError")
class MessageErrorObject(serializers.Serializer[Any]):
    code = serializers.IntegerField(allow_null=True, help_text="The provider's error code.")
    title = serializers.CharField()
    detail = serializers.CharField()


@extend_schema_serializer(component_name="Message")
class MessageObject(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    thread = serializers.UUIDField()
    direction = serializers.ChoiceField(choices=Message.Direction.values)
    type = serializers.ChoiceField(choices=Message.Type.values)
    text = serializers.CharField(help_text="The body, a caption, or a readable summary of the payload.")
    template = MessageTemplateObject(allow_null=True)
    media = MessageMediaObject(allow_null=True)
    status = serializers.ChoiceField(choices=Message.Status.values)
    error = MessageErrorObject(allow_null=True)
    wamid = serializers.CharField(allow_null=True)
    sent_by = AgentBriefObject(allow_null=True, help_text="The agent who sent it; null for the API and inbound.")
    created_at = serializers.DateTimeField()
    status_at = serializers.DateTimeField(allow_null=True)
    send_at = serializers.DateTimeField(
        allow_null=True, help_text="Send later: when a `scheduled` message is (or was) due; null otherwise."
    )


@extend_schema_serializer(component_name="Note")
class NoteObject(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    thread = serializers.UUIDField()
    body = serializers.CharField()
    author = AgentBriefObject(allow_null=True, help_text="The agent who wrote it; null for notes made by the API.")
    mentions = AgentBriefObject(many=True)
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="PhoneNumber")
class PhoneNumberObject(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    phone_number_id = serializers.CharField(help_text="The provider's id of the number.")
    display_number = serializers.CharField()
    created_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="Template")
class TemplateObject(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField()
    language = serializers.CharField()
    category = serializers.ChoiceField(choices=Template.Category.values)
    header = serializers.CharField()
    body = serializers.CharField(help_text="With positional `{{1}}` or named `{{name}}` parameters.")
    footer = serializers.CharField()
    buttons = serializers.ListField(child=serializers.DictField())
    status = serializers.ChoiceField(choices=Template.Status.values)
    rejection_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
