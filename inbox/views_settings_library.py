"""Settings → Labels and Settings → Canned replies.

Owners and admins create, edit and delete both; agents may read the canned replies (they
use them in the reply box) and get the readable 403 page for everything else.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.views import team_manager_required
from inbox import selectors
from inbox.services import library


class LabelForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=library.LABEL_NAME_MAX)
    color = forms.CharField(
        label=_("Color"), max_length=7, initial="#64748b", widget=forms.TextInput(attrs={"type": "color"})
    )


class CannedReplyForm(forms.Form):
    shortcut = forms.CharField(
        label=_("Shortcut"),
        max_length=library.SHORTCUT_MAX + 1,
        help_text=_("Agents type it after “/” in the reply box, e.g. opening-hours."),
    )
    title = forms.CharField(label=_("Title"), max_length=library.TITLE_MAX)
    body = forms.CharField(label=_("Text"), max_length=library.BODY_MAX, widget=forms.Textarea(attrs={"rows": 3}))


def _form_errors_add(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


# --- labels -----------------------------------------------------------------------------------


def _labels_page(
    request: HttpRequest,
    *,
    form: LabelForm | None = None,
    edit_form: LabelForm | None = None,
    editing: uuid.UUID | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "labels": selectors.label_list_with_usage(),
        "form": form or LabelForm(),
        "edit_form": edit_form,
        "editing": editing,
        "section": "labels",
    }
    return render(request, "inbox/settings_labels.html", context, status=status)


@require_http_methods(["GET", "POST"])
@team_manager_required
def settings_labels(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _labels_page(request)
    form = LabelForm(request.POST)
    if form.is_valid():
        try:
            label = library.label_create(name=form.cleaned_data["name"], color=form.cleaned_data["color"])
        except ValidationError as exc:
            _form_errors_add(form, exc)
        else:
            messages.success(request, _("Label “%(name)s” added.") % {"name": label.name})
            return redirect("settings_labels")
    return _labels_page(request, form=form, status=400)


@require_POST
@team_manager_required
def settings_label_update(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    label = selectors.label_get(public_id=public_id)
    form = LabelForm(request.POST)
    if form.is_valid():
        try:
            library.label_update(label=label, name=form.cleaned_data["name"], color=form.cleaned_data["color"])
        except ValidationError as exc:
            _form_errors_add(form, exc)
        else:
            messages.success(request, _("Label “%(name)s” saved.") % {"name": label.name})
            return redirect("settings_labels")
    return _labels_page(request, edit_form=form, editing=label.public_id, status=400)


@require_POST
@team_manager_required
def settings_label_delete(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    label = selectors.label_get(public_id=public_id)
    used_on = library.label_delete(label=label)
    messages.success(
        request, _("Label “%(name)s” deleted; it was on %(count)d thread(s).") % {"name": label.name, "count": used_on}
    )
    return redirect("settings_labels")


# --- canned replies ---------------------------------------------------------------------------


def _can_manage(request: HttpRequest) -> bool:
    return bool(request.user.can_manage_team)  # type: ignore[union-attr]


def _canned_replies_page(
    request: HttpRequest,
    *,
    form: CannedReplyForm | None = None,
    edit_form: CannedReplyForm | None = None,
    editing: uuid.UUID | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "canned_replies": selectors.canned_reply_list(),
        "can_manage": _can_manage(request),
        "form": form or CannedReplyForm(),
        "edit_form": edit_form,
        "editing": editing,
        "section": "canned_replies",
    }
    return render(request, "inbox/settings_canned_replies.html", context, status=status)


@require_GET
@login_required
def settings_canned_replies(request: HttpRequest) -> HttpResponse:
    return _canned_replies_page(request)


@require_POST
@team_manager_required
def settings_canned_reply_create(request: HttpRequest) -> HttpResponse:
    form = CannedReplyForm(request.POST)
    if form.is_valid():
        try:
            reply = library.canned_reply_create(**form.cleaned_data)
        except ValidationError as exc:
            _form_errors_add(form, exc)
        else:
            messages.success(request, _("Canned reply /%(shortcut)s added.") % {"shortcut": reply.shortcut})
            return redirect("settings_canned_replies")
    return _canned_replies_page(request, form=form, status=400)


@require_POST
@team_manager_required
def settings_canned_reply_update(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    reply = selectors.canned_reply_get(public_id=public_id)
    form = CannedReplyForm(request.POST)
    if form.is_valid():
        try:
            library.canned_reply_update(canned_reply=reply, **form.cleaned_data)
        except ValidationError as exc:
            _form_errors_add(form, exc)
        else:
            messages.success(request, _("Canned reply /%(shortcut)s saved.") % {"shortcut": reply.shortcut})
            return redirect("settings_canned_replies")
    return _canned_replies_page(request, edit_form=form, editing=reply.public_id, status=400)


@require_POST
@team_manager_required
def settings_canned_reply_delete(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    reply = selectors.canned_reply_get(public_id=public_id)
    library.canned_reply_delete(canned_reply=reply)
    messages.success(request, _("Canned reply /%(shortcut)s deleted.") % {"shortcut": reply.shortcut})
    return redirect("settings_canned_replies")
