"""The thread's "send later" pieces: the scheduled replies with their Cancel buttons, and
the form that schedules one. Tags, so the composer and the live poll show them without
every view building their context."""

from __future__ import annotations

from typing import Any

from django import template

from inbox import selectors
from inbox.models import Thread
from inbox.services import csat, scheduled
from inbox.window import window_expires_at, window_is_open

register = template.Library()


@register.inclusion_tag("inbox/_scheduled.html", takes_context=True)
def scheduled_replies(context: template.Context, thread: Thread) -> dict[str, Any]:
    """The thread's messages waiting for their time (and its satisfaction ratings)."""
    return {
        "thread": thread,
        "scheduled": list(scheduled.scheduled_list_for_thread(thread=thread)),
        "surveys": csat.csat_survey_list_for_thread(thread=thread),
        "window_expires_at": window_expires_at(thread),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("inbox/_send_later.html", takes_context=True)
def send_later_form(context: template.Context, thread: Thread) -> dict[str, Any]:
    """The "send later" form: free text or an approved template, and a time (UTC)."""
    return {
        "thread": thread,
        "templates": list(selectors.template_list(approved_only=True)),
        "window_open": window_is_open(thread),
        "window_expires_at": window_expires_at(thread),
        "csrf_token": context.get("csrf_token"),
    }
