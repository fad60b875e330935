"""The operator console's actions and reads that reach into companies' schemas.

Every write here is audited through `tenants.services.audit_record` inside the same
transaction as the change (operator in the admin, or `cli:<os user>` for commands).

Cross-schema reads (agents, last activity, pending templates) are ONE `UNION ALL` statement
over the schemas asked for, in batches, rather than a `schema_context` loop: a loop costs
two round trips (SET search_path, SELECT) per company, so an admin page of 100 companies
would wait on 200 queries; the union is one round trip per batch and each arm is an index
or small-table read. Schema names are our own (slug-derived, validated), quoted anyway.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Count
from django.utils.translation import gettext_lazy
from django_tenants.utils import schema_context

from accounts.models import User
from inbox.models import Message, Template, Thread
from inbox.services import templates as template_services
from tenants.models import Company
from tenants.services import audit_record

logger = logging.getLogger(__name__)

SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
UNION_BATCH = 200
REASON_REQUIRED = gettext_lazy("Give a reason: it is recorded in the audit log.")


class OperatorActionError(Exception):
    """The action does not apply (wrong state, unknown template); nothing was changed."""


def _quoted(schema: str) -> str:
    if not SCHEMA_RE.match(schema):
        raise ValueError(f"unexpected schema name {schema!r}")
    return f'"{schema}"'


# --- suspension -----------------------------------------------------------------------------


@transaction.atomic
def company_suspend(*, company: Company, actor: User | None, reason: str, actor_label: str = "") -> Company:
    """Suspends an active company: its pages and API answer 403; inbound is still stored."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [REASON_REQUIRED]})
    locked = Company.objects.select_for_update().get(pk=company.pk)
    if locked.status != Company.Status.ACTIVE:
        raise OperatorActionError(f"Cannot suspend {locked.slug}: it is {locked.status}, not active.")
    before = {"status": locked.status, "suspended_reason": locked.suspended_reason}
    locked.status = Company.Status.SUSPENDED
    locked.suspended_reason = reason[:2000]
    locked.save(update_fields=["status", "suspended_reason", "updated_at"])
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action="company.suspend",
        company=locked,
        target=locked.slug or "",
        before=before,
        after={"status": locked.status, "suspended_reason": locked.suspended_reason},
    )
    return locked


@transaction.atomic
def company_unsuspend(*, company: Company, actor: User | None, reason: str = "", actor_label: str = "") -> Company:
    """Lifts a suspension: the company's pages and API work again."""
    locked = Company.objects.select_for_update().get(pk=company.pk)
    if locked.status != Company.Status.SUSPENDED:
        raise OperatorActionError(f"Cannot lift the suspension of {locked.slug}: it is {locked.status}, not suspended.")
    before = {"status": locked.status, "suspended_reason": locked.suspended_reason}
    locked.status = Company.Status.ACTIVE
    locked.suspended_reason = ""
    locked.save(update_fields=["status", "suspended_reason", "updated_at"])
    after: dict[str, Any] = {"status": locked.status, "suspended_reason": ""}
    if reason.strip():
        after["reason"] = reason.strip()[:2000]
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action="company.unsuspend",
        company=locked,
        target=locked.slug or "",
        before=before,
        after=after,
    )
    return locked


# --- templates of every company -------------------------------------------------------------


@dataclass(frozen=True)
class PendingTemplate:
    company_id: int
    company_slug: str
    public_id: str
    name: str
    language: str
    category: str
    body: str
    updated_at: datetime


def template_pending_list() -> list[PendingTemplate]:
    """Templates waiting for review in every live company, oldest first (one query per batch)."""
    companies = list(
        Company.objects.filter(status__in=[Company.Status.ACTIVE, Company.Status.SUSPENDED])
        .order_by("id")
        .values_list("id", "slug", "schema_name")
    )
    rows: list[PendingTemplate] = []
    for start in range(0, len(companies), UNION_BATCH):
        batch = companies[start : start + UNION_BATCH]
        arms = [
            f"""SELECT %s, %s, public_id::text, name, language, category, body, updated_at
                FROM {_quoted(schema)}.inbox_template WHERE status = 'pending'"""  # noqa: S608 - quoted, validated
            for _, _, schema in batch
        ]
        params: list[Any] = []
        for company_id, slug, _ in batch:
            params += [company_id, slug]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(arms), params)
            rows += [PendingTemplate(*row) for row in cursor.fetchall()]
    return sorted(rows, key=lambda row: (row.updated_at, row.company_id))


def template_review_decide(
    *,
    company: Company,
    name: str,
    language: str,
    approve: bool,
    reason: str = "",
    actor: User | None,
    actor_label: str = "",
) -> Template:
    """An operator approves or rejects (with a reason) a company's pending template.

    Raises OperatorActionError for an unknown template or one not pending review, and
    ValidationError for a rejection without a reason; nothing changes then.
    """
    if not approve and not (reason or "").strip():
        raise ValidationError({"reason": [REASON_REQUIRED]})
    with schema_context(company.schema_name):
        return _template_decide(
            company=company,
            name=name,
            language=language,
            approve=approve,
            reason=reason,
            actor=actor,
            actor_label=actor_label,
        )


@transaction.atomic
def _template_decide(
    *, company: Company, name: str, language: str, approve: bool, reason: str, actor: User | None, actor_label: str
) -> Template:
    template = Template.objects.select_for_update().filter(name=name, language=language).first()
    if template is None:
        raise OperatorActionError(f"No template {name!r} in language {language!r} at {company.slug}.")
    before = {"status": template.status, "rejection_reason": template.rejection_reason}
    try:
        decided = template_services.template_review_decide(template=template, approve=approve, reason=reason)
    except template_services.TemplateNotPendingError as exc:
        raise OperatorActionError(f"Cannot decide at {company.slug}: {exc}") from exc
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action="template.approve" if approve else "template.reject",
        company=company,
        target=f"{name} ({language})",
        before=before,
        after={"status": decided.status, "rejection_reason": decided.rejection_reason},
    )
    return decided


# --- what the company list shows --------------------------------------------------------------


@dataclass(frozen=True)
class CompanyStats:
    agents: int
    last_activity_at: datetime | None


def company_stats_list(*, companies: list[Company]) -> dict[int, CompanyStats]:
    """Active agents and the last message time of each company, for one admin page.

    `last_activity_at` is the newest `Thread.last_message_at` (indexed `thread_recent`),
    so each arm is an index probe plus a count over the small users table.
    """
    live = [c for c in companies if c.status in (Company.Status.ACTIVE, Company.Status.SUSPENDED)]
    stats: dict[int, CompanyStats] = {}
    for start in range(0, len(live), UNION_BATCH):
        batch = live[start : start + UNION_BATCH]
        arms = [
            f"""SELECT %s,
                  (SELECT count(*) FROM {_quoted(c.schema_name)}.accounts_user WHERE is_active),
                  (SELECT max(last_message_at) FROM {_quoted(c.schema_name)}.inbox_thread)"""  # noqa: S608
            for c in batch
        ]
        with connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(arms), [c.pk for c in batch])
            for company_id, agents, last in cursor.fetchall():
                stats[company_id] = CompanyStats(agents=agents, last_activity_at=last)
    return stats


# --- message bodies: masked unless deliberately revealed (and audited) -----------------------


@dataclass(frozen=True)
class ThreadRow:
    public_id: str
    contact: str  # masked phone
    status: str
    message_count: int
    last_message_at: datetime | None


@dataclass(frozen=True)
class MessageRow:
    direction: str
    type: str
    status: str
    created_at: datetime
    length: int
    text: str  # "" unless revealed


def phone_mask(phone: str) -> str:
    """+4915112345678 → +49•••••••5678: enough to tell threads apart, not to call anyone."""
    if len(phone) <= 7:
        return "•" * len(phone)
    return phone[:3] + "•" * (len(phone) - 7) + phone[-4:]


def thread_list_masked(*, company: Company, limit: int = 100) -> list[ThreadRow]:
    """The company's most recent threads, without names or message bodies."""
    with schema_context(company.schema_name):
        threads = list(Thread.objects.select_related("contact").order_by("-last_message_at", "-id")[:limit])
        counts = dict(
            Message.objects.filter(thread__in=threads).order_by().values_list("thread_id").annotate(n=Count("id"))
        )
        return [
            ThreadRow(
                public_id=str(t.public_id),
                contact=phone_mask(t.contact.phone),
                status=t.status,
                message_count=counts.get(t.pk, 0),
                last_message_at=t.last_message_at,
            )
            for t in threads
        ]


def thread_messages_for_operator(
    *, company: Company, thread_public_id: str, actor: User | None, reveal: bool, reason: str = ""
) -> list[MessageRow]:
    """A thread's latest messages for an operator: bodies masked, or revealed and audited.

    Revealing needs a reason, and writes `thread.reveal` to the audit log before any body
    is returned. Raises Thread.DoesNotExist for an unknown thread, ValidationError for a
    reveal without a reason.
    """
    if reveal and not (reason or "").strip():
        raise ValidationError({"reason": [REASON_REQUIRED]})
    with schema_context(company.schema_name):
        thread = Thread.objects.get(public_id=thread_public_id)
        messages = list(Message.objects.filter(thread=thread).order_by("-created_at", "-id")[:200])
        if reveal:
            with transaction.atomic():
                audit_record(
                    actor=actor,
                    action="thread.reveal",
                    company=company,
                    target=f"thread {thread.public_id}",
                    before=None,
                    after={"reason": reason.strip()[:2000], "messages": len(messages)},
                )
        return [
            MessageRow(
                direction=m.direction,
                type=m.type,
                status=m.status,
                created_at=m.created_at,
                length=len(m.text),
                text=m.text if reveal else "",
            )
            for m in reversed(messages)
        ]
