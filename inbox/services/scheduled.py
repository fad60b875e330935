"""Send later: an agent's reply (text or template) that waits for its time.

Stored as an outbound `Message` in status `scheduled` with `send_at` (not a separate
model): the API object, the message webhooks, retry of a failed send and the timeline's
failure display all work on it unchanged, and at its time it enters the ordinary path
(`queued` → `message_deliver_task`). While scheduled it is not in the timeline (its
`created_at` is when it was written, not when it goes out); the thread shows it apart
with its time and a Cancel button.

Nothing waits in the broker for hours (a Redis broker redelivers an unacked task after
its visibility timeout, reliability-security.md §1.6). A beat-driven scan per company
(`scheduled_messages_send_due`, on the `broadcasts` queue like broadcasts) claims each due
row with ONE conditional UPDATE `scheduled → queued`: of two concurrent scanners exactly
one wins a row, and only the winner enqueues its delivery. Cancelling is the same kind of
UPDATE `scheduled → cancelled`, so a message is either cancelled or sent, never both.

The rules are checked again at send time: a free-form text whose 24-hour window has
closed fails with the platform's reason (131047) instead of going out; a template is
re-checked for approval and the contact's opt-out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from billing import services as billing
from billing.errors import PlanLimitExceeded
from inbox import representations, tasks
from inbox.errors import ContactOptedOutError, InboxError
from inbox.models import Message, Template, Thread
from inbox.providers.base import template_render
from inbox.providers.errors import WINDOW_CLOSED_CODE
from inbox.services import events, messages, threads
from inbox.window import window_is_open
from tenants import verification

logger = logging.getLogger(__name__)

# How far ahead a reply may be scheduled, and how near: a time in the past is a mistake
# (the agent meant "send now"), a year ahead almost certainly a typo.
SCHEDULE_MIN_LEAD = timedelta(seconds=30)
SCHEDULE_MAX_AHEAD = timedelta(days=365)
# Rows one scan claims; the next scan (beat, every 15 s) takes the rest.
SCAN_BATCH = 200

SCHEDULED_TYPES = (Message.Type.TEXT, Message.Type.TEMPLATE)


class ScheduleError(InboxError):
    """A scheduled message cannot be cancelled (it was sent, failed or cancelled already)."""


def _send_at_check(send_at: datetime | None) -> datetime:
    if send_at is None:
        raise ValidationError({"send_at": [_("Choose when to send it.")]})
    if timezone.is_naive(send_at):
        raise ValidationError({"send_at": [_("Give the time with its time zone (e.g. 2026-11-25T16:00:00Z).")]})
    now = timezone.now()
    if send_at < now + SCHEDULE_MIN_LEAD:
        raise ValidationError({"send_at": [_("Choose a time in the future, or send it now.")]})
    if send_at > now + SCHEDULE_MAX_AHEAD:
        raise ValidationError({"send_at": [_("Choose a time within the next year.")]})
    return send_at


@transaction.atomic
def message_schedule(
    *,
    thread: Thread,
    sender: User | None,
    send_at: datetime,
    type: str,
    text: str = "",
    template: Template | dict[str, Any] | None = None,
    template_parameters: list[Any] | dict[str, Any] | None = None,
) -> Message:
    """Stores a reply to send at `send_at` (status `scheduled`); returns it.

    Checked now: the shape (text length, an approved template, a contact who has not opted
    out). Not checked now: the 24-hour window, which may open (the customer writes) or
    close before then; it is checked when the message is due. Nothing is reserved against
    the plan's daily limit until it is sent.
    """
    if type not in SCHEDULED_TYPES:
        raise ValidationError({"type": [_("Only a text or a template can be sent later.")]})
    send_at = _send_at_check(send_at)
    company = messages._company()
    message = Message(
        thread=thread,
        direction=Message.Direction.OUTBOUND,
        type=type,
        status=Message.Status.SCHEDULED,
        status_rank=Message.STATUS_RANK[Message.Status.SCHEDULED],
        status_at=timezone.now(),
        send_at=send_at,
        sent_by=sender,
        sender_identity=verification.sender_identity_snapshot(company=company),
    )
    if type == Message.Type.TEMPLATE:
        if template is None:
            raise ValidationError({"template": [_("Choose a template.")]})
        found = messages._template_resolve(template)
        if template_parameters is None and isinstance(template, dict):
            template_parameters = template.get("parameters")
        _recipient_check(thread=thread, template=found)
        message.template_name = found.name
        message.template_language = found.language
        message.template_category = found.category
        message.template_parameters = template_parameters or []
        message.text = template_render(found.body, template_parameters)
    else:
        text = (text or "").strip()
        if not text:
            raise ValidationError({"text": [messages.TEXT_REQUIRED]})
        if len(text) > messages.TEXT_MAX:
            raise ValidationError({"text": [messages.TEXT_TOO_LONG]})
        message.text = text
    message.save()
    # Other agents looking at the thread see it appear (their live poll watches updated_at).
    Thread.objects.filter(pk=thread.pk).update(updated_at=timezone.now())
    events.event_publish(event_type="message.status", data=representations.message_data(message))
    return message


def _recipient_check(*, thread: Thread, template: Template) -> None:
    contact = thread.contact
    if contact.opted_out:
        raise ContactOptedOutError(messages.OPTED_OUT)
    if template.category == Template.Category.MARKETING and contact.marketing_opted_out:
        raise ContactOptedOutError(messages.MARKETING_OPTED_OUT)


@transaction.atomic
def message_cancel_scheduled(*, message: Message) -> Message:
    """Cancels a scheduled message; ScheduleError when it is not scheduled any more.

    One conditional UPDATE: a scanner that claimed it first wins (it is being sent), and
    a cancelled one is never claimed.
    """
    now = timezone.now()
    cancelled = Message.objects.filter(pk=message.pk, status=Message.Status.SCHEDULED).update(
        status=Message.Status.CANCELLED,
        status_rank=Message.STATUS_RANK[Message.Status.CANCELLED],
        status_at=now,
    )
    message.refresh_from_db()
    if not cancelled:
        raise ScheduleError(_("This message is not scheduled any more: it was sent, failed or cancelled already."))
    Thread.objects.filter(pk=message.thread_id).update(updated_at=now)
    events.event_publish(event_type="message.status", data=representations.message_data(message))
    return message


def scheduled_list_for_thread(*, thread: Thread) -> QuerySet[Message]:
    """The thread's messages still waiting for their time, soonest first."""
    return (
        Message.objects.filter(thread=thread, status=Message.Status.SCHEDULED)
        .select_related("sent_by")
        .order_by("send_at", "id")
    )


def scheduled_messages_send_due(*, now: datetime | None = None) -> int:
    """Claims and sends this company's due scheduled messages; returns how many it claimed.

    Call in the company's schema, outside a transaction. Safe to run concurrently: each
    row is claimed by one conditional UPDATE, which only one scanner can win.
    """
    now = now or timezone.now()
    due = list(
        Message.objects.filter(status=Message.Status.SCHEDULED, send_at__lte=now)
        .order_by("send_at", "id")
        .values_list("pk", flat=True)[:SCAN_BATCH]
    )
    claimed = 0
    for pk in due:
        if _claim_and_send(pk):
            claimed += 1
    return claimed


def _claim_and_send(pk: int) -> bool:
    now = timezone.now()
    with transaction.atomic():
        # The claim: the message enters the conversation now (created_at), as `queued`.
        won = Message.objects.filter(pk=pk, status=Message.Status.SCHEDULED).update(
            status=Message.Status.QUEUED,
            status_rank=Message.STATUS_RANK[Message.Status.QUEUED],
            status_at=now,
            created_at=now,
        )
        if not won:
            return False
        message = Message.objects.select_related("thread__contact", "thread__phone_number", "sent_by").get(pk=pk)
        reason = _send_time_refusal(message)
        if reason is not None:
            code, title, detail = reason
            Message.objects.filter(pk=pk).update(
                status=Message.Status.FAILED,
                status_rank=Message.STATUS_RANK[Message.Status.FAILED],
                status_at=now,
                error_code=code,
                error_title=title[:255],
                error_detail=detail,
            )
            message.refresh_from_db()
            threads.thread_record_outbound(thread=message.thread, message=message)
            events.event_publish(event_type="message.status", data=representations.message_data(message))
            logger.info("scheduled message %s not sent: %s", message.public_id, title)
            return True
        threads.thread_record_outbound(thread=message.thread, message=message)
        tasks.message_deliver_task.delay_on_commit(pk)
    return True


def _send_time_refusal(message: Message) -> tuple[int | None, str, str] | None:
    """Why a due message must not go out now, as (error code, title, detail); None to send."""
    thread = message.thread
    if message.type != Message.Type.TEMPLATE:
        if not window_is_open(thread):
            return (
                WINDOW_CLOSED_CODE,
                _("Re-engagement message"),
                _(
                    "Not sent: the 24-hour window was closed at the scheduled time (the customer last wrote "
                    "more than 24 hours before). Send an approved template instead."
                ),
            )
        return None
    template = Template.objects.filter(name=message.template_name, language=message.template_language).first()
    if template is None or template.status != Template.Status.APPROVED:
        detail = messages.TEMPLATE_NOT_APPROVED.format(name=message.template_name, language=message.template_language)
        return None, _("Template not approved"), _("Not sent: %(detail)s") % {"detail": detail}
    try:
        _recipient_check(thread=thread, template=template)
    except ContactOptedOutError as exc:
        return None, _("Contact opted out"), _("Not sent: %(detail)s") % {"detail": exc.message}
    company = messages._company()
    if company is not None:
        try:
            # A template is business-initiated: it counts against the plan's daily cap when it goes.
            billing.limits_reserve(company=company, kind=billing.KIND_MESSAGE)
        except PlanLimitExceeded as exc:
            return None, _("Plan limit reached"), _("Not sent: %(detail)s") % {"detail": exc.message}
    return None
