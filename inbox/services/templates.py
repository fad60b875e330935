"""Message templates: drafting and submitting them for review.

With the `sandbox` provider (WHATSAPP_API_BASE empty) a submitted template is approved at
once; with `whatsapp_cloud` it stays `pending` until an operator decides (admin, or the
`approve_template` command) or until the provider's `message_template_status_update`
webhook decides (`template_status_apply`).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from inbox.errors import InboxError
from inbox.models import Template
from tenants.inbound import TemplateStatus

logger = logging.getLogger(__name__)

NAME_INVALID = _("Use lowercase letters, digits and underscores only, e.g. order_shipped.")
LANGUAGE_INVALID = _("Use a language code such as en or en_US.")
TEMPLATE_TAKEN = _("A template with this name and language already exists.")
BUTTONS_INVALID = _("Buttons are a list of up to 10 objects, each with a `type` and a `text`.")
NOT_SUBMITTABLE = _("Only a draft or rejected template can be submitted; this one is {status}.")

# The platform's template events (whatsapp-platform.md §1.5, §3.2) as our statuses. Every
# state in which a send is refused and that is not review or a quality pause counts as
# rejected, with the event named in the reason. FLAGGED changes nothing: still sendable.
EVENT_STATUS = {
    "APPROVED": Template.Status.APPROVED,
    "REINSTATED": Template.Status.APPROVED,
    "UNARCHIVED": Template.Status.APPROVED,
    "PENDING": Template.Status.PENDING,
    "IN_APPEAL": Template.Status.PENDING,
    "PAUSED": Template.Status.PAUSED,
    "REJECTED": Template.Status.REJECTED,
    "DISABLED": Template.Status.REJECTED,
    "ARCHIVED": Template.Status.REJECTED,
    "PENDING_DELETION": Template.Status.REJECTED,
    "DELETED": Template.Status.REJECTED,
    "LIMIT_EXCEEDED": Template.Status.REJECTED,
    "LOCKED": Template.Status.REJECTED,
}

NAME_RE = re.compile(r"^[a-z0-9_]{1,512}$")
LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
MAX_BUTTONS = 10


class TemplateNotSubmittableError(InboxError):
    """The template's status does not allow a submission (it is pending or decided)."""


def _buttons_clean(buttons: Any) -> list[dict[str, Any]]:
    if not isinstance(buttons, list) or len(buttons) > MAX_BUTTONS:
        raise ValidationError({"buttons": [BUTTONS_INVALID]})
    for button in buttons:
        if not isinstance(button, dict) or not button.get("type") or not button.get("text"):
            raise ValidationError({"buttons": [BUTTONS_INVALID]})
    return buttons


@transaction.atomic
def template_create(
    *,
    name: str,
    language: str,
    category: str,
    body: str,
    header: str = "",
    footer: str = "",
    buttons: list[dict[str, Any]] | None = None,
) -> Template:
    """Makes a template in `draft`; (name, language) is unique."""
    name = name.strip()
    language = language.strip()
    errors: dict[str, list[str]] = {}
    if not NAME_RE.match(name):
        errors["name"] = [NAME_INVALID]
    if not LANGUAGE_RE.match(language):
        errors["language"] = [LANGUAGE_INVALID]
    if errors:
        raise ValidationError(errors)
    if Template.objects.filter(name=name, language=language).exists():
        raise ValidationError({"name": [TEMPLATE_TAKEN]})
    template = Template(
        name=name,
        language=language,
        category=category,
        header=header.strip(),
        body=body.strip(),
        footer=footer.strip(),
        buttons=_buttons_clean(buttons or []),
        status=Template.Status.DRAFT,
    )
    template.full_clean()
    template.save()
    return template


@transaction.atomic
def template_submit(*, template: Template) -> Template:
    """Sends a draft (or rejected) template for review: `approved` at once with the sandbox
    provider, `pending` with the real one. Raises TemplateNotSubmittableError otherwise."""
    locked = Template.objects.select_for_update().get(pk=template.pk)
    if locked.status not in (Template.Status.DRAFT, Template.Status.REJECTED):
        raise TemplateNotSubmittableError(NOT_SUBMITTABLE.format(status=locked.status))
    sandbox = not settings.WHATSAPP_API_BASE
    locked.status = Template.Status.APPROVED if sandbox else Template.Status.PENDING
    locked.rejection_reason = ""
    locked.save(update_fields=["status", "rejection_reason", "updated_at"])
    return locked


@transaction.atomic
def template_status_apply(*, item: TemplateStatus) -> Template | None:
    """Sets a template's status from the provider's decision; None when nothing changed.

    Call in the company's schema. Matched by name and language; an unknown template or
    event is logged and ignored. A replay writes nothing.
    """
    status = EVENT_STATUS.get(item.event)
    if status is None:
        logger.info("template event %s for %s/%s ignored", item.event, item.name, item.language)
        return None
    template = Template.objects.select_for_update().filter(name=item.name, language=item.language).first()
    if template is None:
        logger.info("template event %s for unknown template %s/%s", item.event, item.name, item.language)
        return None
    detail = "" if item.reason in ("", "NONE") else item.reason
    reason = ""
    if item.event == "REJECTED":
        reason = detail
    elif status == Template.Status.REJECTED:
        reason = f"{item.event}: {detail}" if detail else item.event
    if (template.status, template.rejection_reason) == (status, reason):
        return None
    template.status = status
    template.rejection_reason = reason
    template.save(update_fields=["status", "rejection_reason", "updated_at"])
    if status in (Template.Status.PAUSED, Template.Status.REJECTED):
        # Every further send of it would be refused: its running broadcasts pause with the
        # reason (within one batch) instead of failing each recipient.
        from inbox.services.broadcast_breaker import broadcasts_pause_for_template

        broadcasts_pause_for_template(template=template, event=item.event)
    return template


class TemplateNotPendingError(InboxError):
    """Only a template pending review can be approved or rejected."""


def template_review_decide(*, template: Template, approve: bool, reason: str = "") -> Template:
    """Records a review decision on a pending template (operators; see tenants.operator).

    Call inside the caller's transaction with the template locked. Raises
    TemplateNotPendingError unless it is pending.
    """
    if template.status != Template.Status.PENDING:
        raise TemplateNotPendingError(
            f"template {template.name} ({template.language}) is {template.status}, not pending review."
        )
    template.status = Template.Status.APPROVED if approve else Template.Status.REJECTED
    template.rejection_reason = "" if approve else reason.strip()[:2000]
    template.save(update_fields=["status", "rejection_reason", "updated_at"])
    return template
