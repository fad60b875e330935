"""Sending messages and reading one (design/API.md "Messages")."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files import File
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import ApiError, ErrorSerializer, error_responses
from inbox import representations, selectors
from inbox.api import idempotency
from inbox.api.objects import MessageObject
from inbox.errors import ContactOptedOutError, NoPhoneNumberError, TemplateNotApprovedError, WindowClosedError
from inbox.models import AudienceUpload, Contact, MediaUpload, PhoneNumber, Thread
from inbox.phones import phone_normalize
from inbox.services import media_uploads, messages, scheduled

RECIPIENT_ONE = _("Give exactly one recipient: `thread`, `contact` or `to`.")
FROM_UNKNOWN = _("No connected number of this company has this id.")
FROM_NOT_THREADS = _(
    "This thread is bound to another of the company's numbers; give the thread's own number as `from`, or leave "
    "`from` out."
)
MEDIA_SOURCE_ONE = _("Give the file's `url` or the `upload_id` of a media file from `POST /uploads/`, not both.")
UPLOAD_UNKNOWN = _(
    "No media upload of this company has this id. Upload the file with `POST /uploads/`; uploads are kept "
    "{hours} hours."
)
UPLOAD_IS_CSV = _("This id is a CSV audience upload (for broadcasts); a message needs a media upload.")
UPLOAD_IS_IMAGE = _('This upload is an image ({mime_type}); send it as `"type": "image"`.')
UPLOAD_IS_DOCUMENT = _('This upload is a document ({mime_type}); send it as `"type": "document"`.')
UPLOAD_GONE = _("The uploaded file is no longer stored; upload it again.")
BODY_FOR_TYPE = _("A {type} message needs `{field}`.")
SEND_LATER_TYPES = _("Only a text or a template can be sent later.")

ERRORS_409 = (
    "`window_closed`: a free-form message (text, image, document) outside the 24-hour window; send a "
    "template. `conflict`: the template does not exist in that language or is not approved; the "
    "contact opted out (of everything, or of marketing for a marketing template); or the company "
    "has no connected number."
)


class MessageSendApi(APIView):
    @extend_schema_serializer(component_name="MessageSendInput")
    class InputSerializer(serializers.Serializer[Any]):
        @extend_schema_serializer(component_name="MessageSendTemplate")
        class TemplateSerializer(serializers.Serializer[Any]):
            name = serializers.CharField(max_length=512)
            language = serializers.CharField(max_length=16)
            parameters = serializers.JSONField(
                required=False, help_text="A list (positional `{{1}}` …) or an object (named `{{name}}`)."
            )

            def validate_parameters(self, value: Any) -> Any:
                if not isinstance(value, list | dict):
                    raise serializers.ValidationError(_("Give a list or an object."))
                return value

        @extend_schema_serializer(component_name="MessageSendMedia")
        class MediaSerializer(serializers.Serializer[Any]):
            url = serializers.URLField(required=False, max_length=2000, help_text="An https URL of the file.")
            upload_id = serializers.UUIDField(
                required=False,
                help_text=(
                    "The id of a media file from `POST /uploads/` (`kind: media`): a JPEG or PNG for `image`, any "
                    "other for `document`. The message gets its own copy of the file."
                ),
            )
            caption = serializers.CharField(required=False, allow_blank=True, default="", max_length=1024)
            filename = serializers.CharField(
                required=False,
                allow_blank=True,
                default="",
                max_length=255,
                help_text="A document's name for the recipient; with `upload_id`, default the upload's `filename`.",
            )

            def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
                if ("url" in attrs) == ("upload_id" in attrs):
                    raise serializers.ValidationError(
                        {"url" if "url" not in attrs else "upload_id": [MEDIA_SOURCE_ONE]}
                    )
                return attrs

        thread = serializers.UUIDField(required=False, help_text="Send in this thread.")
        contact = serializers.UUIDField(required=False, help_text="Send to this contact.")
        to = serializers.CharField(
            required=False, max_length=32, help_text="Send to this E.164 number; a contact is made if needed."
        )
        from_ = serializers.UUIDField(
            required=False,
            help_text=(
                "The phone number's id to send from; default: the company's first number. With `thread` it may "
                "only be the thread's own number (another one answers 400 `invalid`)."
            ),
        )
        type = serializers.ChoiceField(choices=["text", "template", "image", "document"])
        text = serializers.CharField(required=False, max_length=4096, help_text="For `text`.")
        template = TemplateSerializer(required=False, help_text="For `template`.")
        media = MediaSerializer(required=False, help_text="For `image` and `document`.")
        send_at = serializers.DateTimeField(
            required=False,
            help_text=(
                "Send later: a time with its zone, at least a minute and at most a year ahead. Only `text` and "
                "`template`. The message is stored as `scheduled`; the 24-hour window is checked at that time."
            ),
        )

        def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
            # `from` is a Python keyword: declared as `from_`, exposed as `from`.
            fields = super().get_fields()
            fields["from"] = fields.pop("from_")
            return fields

        def validate_to(self, value: str) -> str:
            try:
                return phone_normalize(value)
            except DjangoValidationError as exc:
                raise serializers.ValidationError(exc.message_dict["phone"]) from None

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            recipients = [name for name in ("thread", "contact", "to") if name in attrs]
            if len(recipients) != 1:
                raise serializers.ValidationError({"non_field_errors": [RECIPIENT_ONE]})
            needed = {"text": "text", "template": "template", "image": "media", "document": "media"}[attrs["type"]]
            if needed not in attrs:
                raise serializers.ValidationError({needed: [BODY_FOR_TYPE.format(type=attrs["type"], field=needed)]})
            if "send_at" in attrs and attrs["type"] not in scheduled.SCHEDULED_TYPES:
                raise serializers.ValidationError({"send_at": [SEND_LATER_TYPES]})
            return attrs

    @extend_schema(
        operation_id="messages_send",
        summary="Send a message",
        description=(
            "Queues the message and answers 202 with it (`status: queued`); delivery reports follow as "
            "`message.status` webhooks and in `GET /messages/{id}/`. An unknown `thread` or `contact` "
            "answers 404; an unknown `from` answers 400. With `send_at` the message is stored as "
            "`scheduled` and sent at that time (cancel it with `POST /messages/{id}/cancel/`); a text whose "
            "24-hour window is closed then fails with error 131047 instead of going out."
        ),
        parameters=[idempotency.PARAMETER],
        request=InputSerializer,
        responses={
            202: MessageObject,
            **error_responses(400, 401, 402, 403, 404),
            409: OpenApiResponse(response=ErrorSerializer, description=ERRORS_409),
            **error_responses(422, 429),
        },
    )
    @idempotency.idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        thread = selectors.thread_get(public_id=data["thread"]) if "thread" in data else None
        contact = selectors.contact_get(public_id=data["contact"]) if "contact" in data else None
        phone_number = None
        if "from" in data:
            try:
                phone_number = selectors.phone_number_get_connected(company=request.tenant, public_id=data["from"])  # type: ignore[attr-defined]  # set by the tenant middleware
            except Http404:
                raise serializers.ValidationError({"from": [FROM_UNKNOWN]}) from None
            if thread is not None:
                # A thread is bound to its number: `from` may only name that one.
                if thread.phone_number_id != phone_number.pk:
                    raise serializers.ValidationError({"from": [FROM_NOT_THREADS]})
                phone_number = None
        media = data.get("media") or {}
        if "send_at" in data:
            return self._schedule(data, thread=thread, contact=contact, phone_number=phone_number)
        if "upload_id" in media:
            upload = _media_upload(media["upload_id"], type=data["type"])
            filename = media_uploads.media_filename(media.get("filename") or upload.filename, upload.mime_type)
            try:
                content = upload.file.open("rb")
            except FileNotFoundError:
                raise serializers.ValidationError({"media": {"upload_id": [UPLOAD_GONE]}}) from None
            with content:
                # message_send stores its own copy: the message outlives the upload.
                return self._send(data, media, thread, contact, phone_number, File(content, filename), filename)
        return self._send(data, media, thread, contact, phone_number, media.get("url"), media.get("filename", ""))

    def _send(
        self,
        data: dict[str, Any],
        media: dict[str, Any],
        thread: Thread | None,
        contact: Contact | None,
        phone_number: PhoneNumber | None,
        file: str | File[Any] | None,
        filename: str,
    ) -> Response:
        template = data.get("template")
        try:
            message = messages.message_send(
                thread=thread,
                contact=contact,
                to=data.get("to", ""),
                phone_number=phone_number,
                sender=None,
                type=data["type"],
                text=data.get("text", "") if data["type"] == "text" else media.get("caption", ""),
                template={"name": template["name"], "language": template["language"]} if template else None,
                template_parameters=template.get("parameters") if template else None,
                media=file,
                filename=filename,
            )
        except WindowClosedError as exc:
            raise ApiError(409, "window_closed", exc.message) from exc
        except (TemplateNotApprovedError, ContactOptedOutError, NoPhoneNumberError) as exc:
            raise ApiError(409, "conflict", exc.message) from exc
        return Response(representations.message_data(message), status=202)

    def _schedule(self, data: dict[str, Any], **recipient: Any) -> Response:
        template = data.get("template")
        try:
            thread = messages._thread_for(to=data.get("to", ""), **recipient)
            message = scheduled.message_schedule(
                thread=thread,
                sender=None,
                send_at=data["send_at"],
                type=data["type"],
                text=data.get("text", ""),
                template={"name": template["name"], "language": template["language"]} if template else None,
                template_parameters=template.get("parameters") if template else None,
            )
        except (TemplateNotApprovedError, ContactOptedOutError, NoPhoneNumberError) as exc:
            raise ApiError(409, "conflict", exc.message) from exc
        return Response(representations.message_data(message), status=202)


def _media_upload(public_id: uuid.UUID, *, type: str) -> MediaUpload:
    """The company's media upload `public_id`, fit for a message of `type`; 400 `invalid` with
    `details` under `media.upload_id` otherwise (like an unknown `from`)."""
    upload = MediaUpload.objects.filter(public_id=public_id).first()
    if upload is None:
        if AudienceUpload.objects.filter(public_id=public_id).exists():
            raise serializers.ValidationError({"media": {"upload_id": [UPLOAD_IS_CSV]}})
        hours = int(media_uploads.media_upload_retention().total_seconds() // 3600)
        raise serializers.ValidationError({"media": {"upload_id": [UPLOAD_UNKNOWN.format(hours=hours)]}})
    kind = media_uploads.MEDIA_KINDS.get(upload.mime_type)
    if kind != type:
        message = (UPLOAD_IS_IMAGE if kind == "image" else UPLOAD_IS_DOCUMENT).format(mime_type=upload.mime_type)
        raise serializers.ValidationError({"media": {"upload_id": [message]}})
    return upload


class MessageCancelApi(APIView):
    @extend_schema(
        operation_id="messages_cancel",
        summary="Cancel a scheduled message",
        description=(
            "Cancels a message sent with `send_at` that is still `scheduled`; it is never sent. Answers 200 with "
            "the message (`status: cancelled`); 409 `conflict` when it is not scheduled any more (sent, failed "
            "or cancelled already)."
        ),
        parameters=[idempotency.PARAMETER],
        request=None,
        responses={200: MessageObject, **error_responses(401, 403, 404, 409, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        message = selectors.message_get(public_id=id)
        try:
            message = scheduled.message_cancel_scheduled(message=message)
        except scheduled.ScheduleError as exc:
            raise ApiError(409, "conflict", exc.message) from exc
        return Response(representations.message_data(message))


class MessageDetailApi(APIView):
    @extend_schema(
        operation_id="messages_retrieve",
        summary="Get a message",
        responses={200: MessageObject, **error_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:
        message = selectors.message_get(public_id=id)
        return Response(representations.message_data(message))
