"""Customer satisfaction (CSAT): a 1-5 rating asked when an agent resolves a thread.

Off by default (`Company.csat_enabled`). On a resolve, while the 24-hour window is open
(never outside it: the request is a free-form session message), the customer gets an
interactive LIST message with five rows. Reply buttons allow at most three per message
(whatsapp-platform.md §2.2), so a list is the one message that offers all five ratings.

Each row id is `csat:<survey id>:<rating>`. The answer arrives as an inbound
`interactive` message with `list_reply.id` and is matched by that id, not by the
thread's current state: a rating that arrives after the thread was reopened still
counts for the resolution that asked. One `CsatSurvey` per (thread, resolved_at) — the
unique constraint makes "at most once per resolve" hold under concurrency — and at most
one `CsatResponse` per survey (the first answer counts).

Reports count `CsatResponse` rows: rating, the agent who resolved, the labels the thread
had when resolved, the time of the answer.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from inbox import representations, tasks
from inbox.models import CsatResponse, CsatSurvey, Message, Thread
from inbox.services import events
from inbox.window import window_is_open
from tenants import verification
from tenants.models import Company

logger = logging.getLogger(__name__)

RATINGS = range(1, 6)
ROW_ID_RE = re.compile(r"^csat:([0-9a-f-]{36}):(\d+)$")


def _company() -> Company | None:
    tenant = getattr(connection, "tenant", None)
    if isinstance(tenant, Company):
        return tenant
    return Company.objects.filter(schema_name=connection.schema_name).first()


def csat_settings_update(*, company: Company, csat_enabled: bool) -> Company:
    """Turns the rating request on or off for the company."""
    Company.objects.filter(pk=company.pk).update(csat_enabled=csat_enabled)
    company.csat_enabled = csat_enabled
    return company


def _row_titles() -> dict[int, str]:
    # Row titles hold at most 24 characters (whatsapp-platform.md §2.2).
    return {
        5: _("5 - Excellent"),
        4: _("4 - Good"),
        3: _("3 - Okay"),
        2: _("2 - Poor"),
        1: _("1 - Very poor"),
    }


def _interactive_payload(survey: CsatSurvey, company_name: str) -> dict[str, Any]:
    body = _("How happy were you with our help today? Please rate us from 1 (very poor) to 5 (excellent).")
    if company_name:
        body = _("%(company)s: %(question)s") % {"company": company_name, "question": body}
    rows = [{"id": f"csat:{survey.public_id}:{rating}", "title": title[:24]} for rating, title in _row_titles().items()]
    return {
        "type": "list",
        "body": {"text": body[:1024]},
        "action": {"button": _("Rate us")[:20], "sections": [{"title": _("Your rating")[:24], "rows": rows}]},
    }


@transaction.atomic
def csat_on_resolve(*, thread: Thread, agent: User | None) -> CsatSurvey | None:
    """Asks for a rating after `thread` was resolved; the survey, or None when not asked.

    Not asked when the company has it off, the thread is not resolved, the window is
    closed, or this resolve was asked for already. `agent` is who resolved (default: the
    assignee). The message goes the ordinary way (queued → message_deliver_task), which
    checks the window again at send time.
    """
    company = _company()
    if company is None or not company.csat_enabled:
        return None
    if thread.status != Thread.Status.RESOLVED or thread.resolved_at is None:
        return None
    if not window_is_open(thread):
        return None
    agent = agent or thread.assignee
    try:
        with transaction.atomic():
            survey = CsatSurvey.objects.create(thread=thread, agent=agent, resolved_at=thread.resolved_at)
    except IntegrityError:
        return None  # this resolve was asked for already
    survey.labels.set(list(thread.labels.all()))
    payload = {"interactive": _interactive_payload(survey, company.name)}
    message = Message.objects.create(
        thread=thread,
        direction=Message.Direction.OUTBOUND,
        type=Message.Type.INTERACTIVE,
        text=payload["interactive"]["body"]["text"],
        payload=payload,
        status=Message.Status.QUEUED,
        status_rank=Message.STATUS_RANK[Message.Status.QUEUED],
        status_at=timezone.now(),
        sent_by=None,
        sender_identity=verification.sender_identity_snapshot(company=company),
    )
    survey.message = message
    survey.save(update_fields=["message"])
    # Not thread_record_outbound: the request must not bump a resolved thread up the list.
    tasks.message_deliver_task.delay_on_commit(message.pk)
    return survey


def _rating_of(message: Message) -> tuple[uuid.UUID, int] | None:
    """(survey id, rating) of a list or button reply naming one of our surveys; else None."""
    if message.type != Message.Type.INTERACTIVE:
        return None
    payload = message.payload or {}
    kind = payload.get("type")
    reply = payload.get(kind) if kind in ("list_reply", "button_reply") else None
    if not isinstance(reply, dict):
        return None
    match = ROW_ID_RE.match(str(reply.get("id", "")))
    if match is None:
        return None
    rating = int(match.group(2))
    if rating not in RATINGS:
        return None
    try:
        return uuid.UUID(match.group(1)), rating
    except ValueError:
        return None


def csat_reply_apply(
    *, message: Message, was_status: str = "", was_resolved_at: datetime | None = None
) -> CsatResponse | None:
    """Stores a customer's rating from an inbound interactive reply; None when it is not one.

    Never raises: it runs inside the recording of the customer's message, which must not
    be lost because a rating could not be stored (the error is logged).
    """
    if _rating_of(message) is None:
        return None
    try:
        with transaction.atomic():
            return _reply_apply(message=message, was_status=was_status, was_resolved_at=was_resolved_at)
    except Exception:
        logger.exception("rating in message %s not stored", message.public_id)
        return None


def _reply_apply(*, message: Message, was_status: str, was_resolved_at: datetime | None) -> CsatResponse | None:
    """`csat_reply_apply`'s work.

    Other replies, unknown surveys, another thread's survey, ratings outside 1-5 and a
    second answer to the same survey are ignored. `was_status`/`was_resolved_at` are the
    thread's state before this message reopened it: when the rating answers the very
    resolution the thread was still in, the thread goes back to resolved (a rating is no
    new request for help).
    """
    found = _rating_of(message)
    if found is None:
        return None
    survey_id, rating = found
    survey = CsatSurvey.objects.select_for_update().filter(public_id=survey_id, thread_id=message.thread_id).first()
    if survey is None:
        logger.info("rating for unknown survey %s ignored", survey_id)
        return None
    if CsatResponse.objects.filter(survey=survey).exists():
        return None
    at = message.provider_timestamp or timezone.now()
    response = CsatResponse.objects.create(
        survey=survey, thread_id=survey.thread_id, agent_id=survey.agent_id, rating=rating, created_at=at
    )
    response.labels.set(list(survey.labels.all()))
    # The thread shows its newest rating; an older answer arriving late does not replace it.
    Thread.objects.filter(pk=survey.thread_id).filter(Q(csat_rated_at__isnull=True) | Q(csat_rated_at__lte=at)).update(
        csat_rating=rating, csat_rated_at=at, updated_at=timezone.now()
    )
    if was_status == Thread.Status.RESOLVED and was_resolved_at == survey.resolved_at:
        Thread.objects.filter(pk=survey.thread_id, status=Thread.Status.OPEN).update(
            status=Thread.Status.RESOLVED,
            resolved_at=was_resolved_at,
            unread_count=Greatest(F("unread_count") - 1, Value(0)),
            updated_at=timezone.now(),
        )
    thread = Thread.objects.select_related("contact", "phone_number", "assignee").get(pk=survey.thread_id)
    events.event_publish(event_type="thread.updated", data=representations.thread_data(thread))
    return response


def csat_survey_list_for_thread(*, thread: Thread) -> list[CsatSurvey]:
    """The thread's rating requests, newest first, with their answer and agent."""
    return list(
        CsatSurvey.objects.filter(thread=thread).select_related("response", "agent").order_by("-created_at", "-id")[:10]
    )
