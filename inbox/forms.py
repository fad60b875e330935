"""Forms of the agents' browser inbox: shape and field validation only."""

from __future__ import annotations

import base64
import binascii
import math
import mimetypes
import uuid
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from inbox.models import Message, Thread
from inbox.services import media
from inbox.services import messages as message_services

VIEW_CHOICES = [("all", _("All")), ("mine", _("Mine")), ("unassigned", _("Unassigned"))]
CURSOR_INVALID = _("This page link is not valid any more; start again from the first page.")


# --- keyset cursors: an opaque "<time>~<pk>" in URL-safe base64 -------------------------------


def cursor_encode(at: datetime | None, pk: int) -> str:
    raw = f"{at.astimezone(UTC).isoformat() if at else ''}~{pk}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(value: str) -> tuple[datetime | None, int]:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        at_text, pk_text = raw.rsplit("~", 1)
        at = datetime.fromisoformat(at_text) if at_text else None
        if at is not None and at.tzinfo is None:
            raise ValueError("naive time")
        return at, int(pk_text)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ValidationError(CURSOR_INVALID) from exc


class CursorField(forms.CharField):
    def to_python(self, value: Any) -> tuple[datetime | None, int] | None:
        text = super().to_python(value)
        return cursor_decode(text) if text else None


class SinceField(forms.CharField):
    """A poll's position: an ISO time with offset, as the previous answer gave it."""

    def to_python(self, value: Any) -> datetime | None:
        text = super().to_python(value)
        if not text:
            return None
        try:
            at = datetime.fromisoformat(text.replace(" ", "+"))
        except ValueError as exc:
            raise ValidationError(_("Not a time.")) from exc
        if at.tzinfo is None:
            raise ValidationError(_("The time needs an offset."))
        return at


# --- thread list ------------------------------------------------------------------------------


class ThreadFilterForm(forms.Form):
    view = forms.ChoiceField(choices=VIEW_CHOICES, required=False, label=_("Show"))
    status = forms.ChoiceField(choices=[("", _("Any status")), *Thread.Status.choices], required=False)
    label = forms.CharField(max_length=50, required=False)
    q = forms.CharField(max_length=100, required=False, label=_("Search"))
    after = CursorField(required=False)

    FILTER_FIELDS = ("view", "status", "label", "q")

    def selector_filters(self, *, agent: User) -> dict[str, Any]:
        """The keyword arguments of `selectors.thread_list` (call after is_valid)."""
        data = self.cleaned_data
        view = data.get("view") or "all"
        return {
            "status": data.get("status") or None,
            "assignee": agent if view == "mine" else None,
            "unassigned": view == "unassigned",
            "label": data.get("label") or None,
            "search": data.get("q") or None,
        }


class ThreadListPollForm(ThreadFilterForm):
    since = SinceField()


# --- one thread -----------------------------------------------------------------------------


class MessagePageForm(forms.Form):
    before = CursorField(required=False)


class ThreadPollForm(forms.Form):
    since = SinceField()
    # Messages on the page still waiting for a status report: "<uuid>,<uuid>,…".
    watch = forms.CharField(required=False, max_length=40 * 40)

    def clean_watch(self) -> list[uuid.UUID]:
        ids = []
        for part in self.cleaned_data["watch"].split(","):
            try:
                ids.append(uuid.UUID(part.strip()))
            except ValueError:
                continue
        return ids[:40]


# What an agent may attach, as the channel accepts it (inbox.services.messages): JPEG and PNG
# go as images, the office formats, PDF and text as documents.
ATTACHMENT_TYPES = {mime: kind for kind, mimes in message_services.SEND_MIME_TYPES.items() for mime in sorted(mimes)}
ATTACHMENT_ACCEPT = ",".join(
    [
        *sorted(ATTACHMENT_TYPES),
        *sorted({ext for mime in ATTACHMENT_TYPES for ext in mimetypes.guess_all_extensions(mime)}),
    ]
)
ATTACHMENT_TYPE_REFUSED = (
    "This file type cannot be sent: attach a JPEG or PNG image, or a PDF, Word, Excel, PowerPoint or text document."
)
ATTACHMENT_TOO_LARGE = "{name} is too large ({size} MB): WhatsApp takes {kind}s up to {limit} MB."
ATTACHMENT_NOT_AN_IMAGE = "{name} is not a JPEG or PNG image, whatever its name says."
REPLY_EMPTY = _("Write something or attach a file.")
# The first bytes of each image type the channel takes.
IMAGE_SIGNATURES = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",)}


def _megabytes(size: int) -> str:
    # Rounded up, so a file just over the limit never reads as exactly the limit.
    return f"{math.ceil(size * 10 / media.MB) / 10:.1f}"


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=_("Reply"),
        max_length=4096,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    attachment = forms.FileField(label=_("Attach a file"), required=False)

    def clean_attachment(self) -> UploadedFile | None:
        upload: UploadedFile | None = self.cleaned_data["attachment"]
        if upload is None:
            return None
        name = upload.name or "file"
        mime = mimetypes.guess_type(name)[0] or ""
        kind = ATTACHMENT_TYPES.get(mime)
        if kind is None:
            raise ValidationError(ATTACHMENT_TYPE_REFUSED)
        limit = media.media_max_bytes(kind)
        if upload.size is not None and upload.size > limit:
            raise ValidationError(
                ATTACHMENT_TOO_LARGE.format(name=name, size=_megabytes(upload.size), kind=kind, limit=limit // media.MB)
            )
        if kind == Message.Type.IMAGE:
            head = upload.read(8)
            upload.seek(0)
            if not head.startswith(IMAGE_SIGNATURES[mime]):
                raise ValidationError(ATTACHMENT_NOT_AN_IMAGE.format(name=name))
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not self.errors and not (data.get("text") or "").strip() and data.get("attachment") is None:
            raise ValidationError({"text": [REPLY_EMPTY]})
        if data.get("attachment") is not None and len(data.get("text") or "") > message_services.CAPTION_MAX:
            self.add_error(
                "text", _("A caption can hold at most %(max)d characters.") % {"max": message_services.CAPTION_MAX}
            )
        return data

    def send_arguments(self) -> dict[str, Any]:
        """The keyword arguments of `message_send` for this reply (call after is_valid)."""
        upload = self.cleaned_data["attachment"]
        text = self.cleaned_data["text"]
        if upload is None:
            return {"type": Message.Type.TEXT, "text": text}
        kind = ATTACHMENT_TYPES[mimetypes.guess_type(upload.name or "")[0] or ""]
        return {"type": kind, "text": text, "media": upload, "filename": upload.name}


class TemplateReplyForm(forms.Form):
    template = forms.TypedChoiceField(label=_("Approved template"), coerce=uuid.UUID, choices=[])
    parameters = forms.CharField(
        label=_("Parameters"),
        required=False,
        help_text=_("One per line, in order: the first line fills {{1}}, the second {{2}} …"),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, templates: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.templates = {t.public_id: t for t in templates}
        self.fields["template"].choices = [
            (str(t.public_id), f"{t.name} ({t.language})") for t in self.templates.values()
        ]

    def clean_parameters(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["parameters"].splitlines() if line.strip()]


class NoteForm(forms.Form):
    body = forms.CharField(
        label=_("Internal note"),
        max_length=10000,
        help_text=_("Only agents see notes. Mention someone with @name."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class AssignForm(forms.Form):
    # "me" takes the thread; empty unassigns it; otherwise an agent's public id.
    agent = forms.CharField(required=False, max_length=40)


class StatusForm(forms.Form):
    status = forms.ChoiceField(choices=Thread.Status.choices)
    snoozed_until = forms.DateTimeField(
        required=False,
        label=_("Snooze until (UTC)"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class LabelsForm(forms.Form):
    labels = forms.MultipleChoiceField(required=False, choices=[], widget=forms.CheckboxSelectMultiple)
    new_labels = forms.CharField(
        required=False, max_length=300, label=_("New labels"), help_text=_("Separate several with commas.")
    )

    def __init__(self, *args: Any, label_names: list[str] = (), **kwargs: Any) -> None:  # type: ignore[assignment]
        super().__init__(*args, **kwargs)
        self.fields["labels"].choices = [(name, name) for name in label_names]

    def names(self) -> list[str]:
        extra = [name.strip() for name in self.cleaned_data["new_labels"].split(",")]
        return sorted({*self.cleaned_data["labels"], *(name for name in extra if name)})
