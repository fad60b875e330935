"""The company's library for agents: labels (name and color) and canned replies.

Owners and admins manage both in Settings; the views check the role, these services the
data. Names and shortcuts are unique without regard to case, so "VIP" and "vip" never
sit side by side in a filter menu and "/Thanks" never shadows "/thanks".
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from inbox.models import CannedReply, Label

LABEL_NAME_MAX = 50
SHORTCUT_MAX = 50
TITLE_MAX = 100
BODY_MAX = 4096
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
SHORTCUT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

LABEL_NAME_REQUIRED = _("Give the label a name.")
LABEL_NAME_TOO_LONG = f"A label name can hold at most {LABEL_NAME_MAX} characters."
LABEL_NAME_TAKEN = _("There is a label “{name}” already.")
LABEL_NAME_COMMA = _("A label name cannot contain a comma.")
COLOR_INVALID = _("Choose a color as #rrggbb, e.g. #64748b.")
SHORTCUT_REQUIRED = _("Give the reply a shortcut.")
SHORTCUT_INVALID = _("Use letters, digits, “-” and “_” only, starting with a letter or digit (e.g. opening-hours).")
SHORTCUT_TOO_LONG = f"A shortcut can hold at most {SHORTCUT_MAX} characters."
SHORTCUT_TAKEN = _("The shortcut /{shortcut} is taken already.")
TITLE_REQUIRED = _("Give the reply a title.")
TITLE_TOO_LONG = f"A title can hold at most {TITLE_MAX} characters."
BODY_REQUIRED = _("Write the reply's text.")
BODY_TOO_LONG = f"A reply can hold at most {BODY_MAX} characters (a WhatsApp message's limit)."


# --- labels ---------------------------------------------------------------------------------


def _label_clean(*, name: str, color: str, label: Label | None) -> tuple[str, str]:
    name = " ".join((name or "").split())
    color = (color or "").strip().lower()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = [LABEL_NAME_REQUIRED]
    elif len(name) > LABEL_NAME_MAX:
        errors["name"] = [LABEL_NAME_TOO_LONG]
    elif "," in name:
        # The thread page takes new labels as a comma-separated list.
        errors["name"] = [LABEL_NAME_COMMA]
    else:
        taken = Label.objects.filter(name__iexact=name)
        if label is not None:
            taken = taken.exclude(pk=label.pk)
        if taken.exists():
            errors["name"] = [LABEL_NAME_TAKEN.format(name=name)]
    if not COLOR_RE.match(color):
        errors["color"] = [COLOR_INVALID]
    if errors:
        raise ValidationError(errors)
    return name, color


def _save(obj: Label | CannedReply, *, field: str, message: str, update_fields: list[str] | None = None) -> None:
    # The unique index settles a race the existence check above cannot.
    try:
        with transaction.atomic():
            obj.save(update_fields=update_fields)
    except IntegrityError as exc:
        raise ValidationError({field: [message]}) from exc


@transaction.atomic
def label_create(*, name: str, color: str) -> Label:
    """A new label; ValidationError keyed by field when the name is empty or taken or the
    color is not #rrggbb."""
    name, color = _label_clean(name=name, color=color, label=None)
    label = Label(name=name, color=color)
    _save(label, field="name", message=LABEL_NAME_TAKEN.format(name=name))
    return label


@transaction.atomic
def label_update(*, label: Label, name: str, color: str) -> Label:
    """Renames and recolors a label; threads and contacts keep it under its new name."""
    name, color = _label_clean(name=name, color=color, label=label)
    label.name = name
    label.color = color
    _save(label, field="name", message=LABEL_NAME_TAKEN.format(name=name), update_fields=["name", "color"])
    return label


@transaction.atomic
def label_delete(*, label: Label) -> int:
    """Deletes the label and takes it off every thread and contact; returns how many threads
    had it."""
    used_on = label.threads.count()
    label.delete()
    return used_on


# --- canned replies ---------------------------------------------------------------------------


def _canned_reply_clean(
    *, shortcut: str, title: str, body: str, canned_reply: CannedReply | None
) -> tuple[str, str, str]:
    shortcut = (shortcut or "").strip().lstrip("/").lower()
    title = " ".join((title or "").split())
    body = (body or "").strip()
    errors: dict[str, list[str]] = {}
    if not shortcut:
        errors["shortcut"] = [SHORTCUT_REQUIRED]
    elif len(shortcut) > SHORTCUT_MAX:
        errors["shortcut"] = [SHORTCUT_TOO_LONG]
    elif not SHORTCUT_RE.match(shortcut):
        errors["shortcut"] = [SHORTCUT_INVALID]
    else:
        taken = CannedReply.objects.filter(shortcut__iexact=shortcut)
        if canned_reply is not None:
            taken = taken.exclude(pk=canned_reply.pk)
        if taken.exists():
            errors["shortcut"] = [SHORTCUT_TAKEN.format(shortcut=shortcut)]
    if not title:
        errors["title"] = [TITLE_REQUIRED]
    elif len(title) > TITLE_MAX:
        errors["title"] = [TITLE_TOO_LONG]
    if not body:
        errors["body"] = [BODY_REQUIRED]
    elif len(body) > BODY_MAX:
        errors["body"] = [BODY_TOO_LONG]
    if errors:
        raise ValidationError(errors)
    return shortcut, title, body


@transaction.atomic
def canned_reply_create(*, shortcut: str, title: str, body: str) -> CannedReply:
    """A new canned reply, typed as /shortcut in the reply box; ValidationError keyed by
    field when the shortcut is malformed or taken, or the title or text is missing."""
    shortcut, title, body = _canned_reply_clean(shortcut=shortcut, title=title, body=body, canned_reply=None)
    canned_reply = CannedReply(shortcut=shortcut, title=title, body=body)
    _save(canned_reply, field="shortcut", message=SHORTCUT_TAKEN.format(shortcut=shortcut))
    return canned_reply


@transaction.atomic
def canned_reply_update(*, canned_reply: CannedReply, shortcut: str, title: str, body: str) -> CannedReply:
    """Changes a canned reply's shortcut, title and text."""
    shortcut, title, body = _canned_reply_clean(shortcut=shortcut, title=title, body=body, canned_reply=canned_reply)
    canned_reply.shortcut = shortcut
    canned_reply.title = title
    canned_reply.body = body
    _save(
        canned_reply,
        field="shortcut",
        message=SHORTCUT_TAKEN.format(shortcut=shortcut),
        update_fields=["shortcut", "title", "body", "updated_at"],
    )
    return canned_reply


@transaction.atomic
def canned_reply_delete(*, canned_reply: CannedReply) -> None:
    """Deletes the canned reply; messages sent with it keep their text."""
    canned_reply.delete()
