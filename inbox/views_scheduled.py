"""Send later in the browser inbox: schedule a reply for a time, cancel a scheduled one.

Both answer with a redirect to the thread and a flash message; the thread shows what is
scheduled (inbox/templatetags/send_later.py). The rules live in inbox/services/scheduled.py.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.models import User
from inbox import selectors
from inbox.display import time_short
from inbox.errors import InboxError
from inbox.models import Message, Template
from inbox.services import messages as message_services
from inbox.services import scheduled

DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


class ScheduleForm(forms.Form):
    """A reply to send later: free text, or an approved template with its parameters."""

    send_at = forms.DateTimeField(
        label=gettext_lazy("Send at (UTC)"), input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]
    )
    text = forms.CharField(label=gettext_lazy("Message"), required=False, max_length=message_services.TEXT_MAX)
    template = forms.ChoiceField(label=gettext_lazy("Or an approved template"), required=False, choices=[])
    parameters = forms.CharField(label=gettext_lazy("Template parameters"), required=False)

    def __init__(self, *args: Any, templates: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.templates = {str(t.public_id): t for t in templates}
        self.fields["template"].choices = [("", _("— free text —"))] + [
            (key, f"{t.name} ({t.language})") for key, t in self.templates.items()
        ]

    def clean_send_at(self) -> datetime:
        value: datetime = self.cleaned_data["send_at"]
        # The inbox shows and takes times in UTC (like snoozing).
        return value.replace(tzinfo=UTC) if timezone.is_naive(value) else value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("template") and not (data.get("text") or "").strip():
            self.add_error("text", _("Write the message, or choose a template."))
        return data

    def schedule_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        if data["template"]:
            template: Template = self.templates[data["template"]]
            parameters = [line.strip() for line in data["parameters"].splitlines() if line.strip()]
            return {"type": Message.Type.TEMPLATE, "template": template, "template_parameters": parameters}
        return {"type": Message.Type.TEXT, "text": data["text"]}


def _agent(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]  # login_required


def _errors(exc: ValidationError | InboxError) -> str:
    if isinstance(exc, InboxError):
        return exc.message
    return " ".join(str(m) for m in exc.messages)


@require_POST
@login_required
def thread_schedule(request: HttpRequest, public_id: str) -> HttpResponse:
    thread = selectors.thread_get_for_agent(agent=_agent(request), public_id=public_id)
    form = ScheduleForm(request.POST, templates=selectors.template_list(approved_only=True))
    if not form.is_valid():
        errors = "; ".join(str(e) for errors in form.errors.values() for e in errors)
        flash.error(request, _("Not scheduled: %(errors)s") % {"errors": errors})
        return redirect("inbox:thread_detail", public_id=thread.public_id)
    try:
        message = scheduled.message_schedule(
            thread=thread, sender=_agent(request), send_at=form.cleaned_data["send_at"], **form.schedule_arguments()
        )
    except (ValidationError, InboxError) as exc:
        flash.error(request, _("Not scheduled: %(errors)s") % {"errors": _errors(exc)})
    else:
        when = time_short(message.send_at)  # the agent's language: "Nov 25, 16:00" / "25. Nov., 16:00"
        flash.success(request, _("Scheduled for %(when)s UTC.") % {"when": when})
    return redirect("inbox:thread_detail", public_id=thread.public_id)


@require_POST
@login_required
def scheduled_cancel(request: HttpRequest, public_id: str, message_id: str) -> HttpResponse:
    thread = selectors.thread_get_for_agent(agent=_agent(request), public_id=public_id)
    try:
        message = Message.objects.get(public_id=uuid.UUID(str(message_id)), thread=thread)
    except (Message.DoesNotExist, ValueError):
        raise Http404 from None
    try:
        scheduled.message_cancel_scheduled(message=message)
    except scheduled.ScheduleError as exc:
        flash.error(request, exc.message)
    else:
        flash.success(request, _("The scheduled message was cancelled; it will not be sent."))
    return redirect("inbox:thread_detail", public_id=thread.public_id)
