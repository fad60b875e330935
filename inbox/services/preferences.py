"""The customer's own marketing switch in WhatsApp (`user_preferences` webhooks).

"stop" is a marketing-only opt-out, "resume" lifts it (whatsapp-platform.md §1.5, §3.3);
both go to the consent ledger with source `user_preferences`, the platform's wording as
detail, followed by the change's key `[user_preferences:<wa_id>:<timestamp>:<value>]`.

The key makes a replay harmless without a schema change: under the contact's row lock,
an event whose key is already in the ledger is not appended again, and a change older
than the latest one recorded from this source (webhooks arrive out of order) is not
applied, so a late "resume" cannot undo a newer "stop".
"""

from __future__ import annotations

import logging
import re

from django.db import transaction
from django.db.models import Q

from inbox.models import ConsentEvent, Contact
from inbox.phones import phone_from_wa_id
from inbox.services import contacts
from tenants.inbound import UserPreference

logger = logging.getLogger(__name__)

SOURCE = "user_preferences"
CATEGORY = "marketing_messages"
ACTIONS = {"stop": ConsentEvent.Action.OPT_OUT, "resume": ConsentEvent.Action.OPT_IN}
DEFAULT_DETAIL = {
    "stop": "The customer stopped marketing messages in WhatsApp.",
    "resume": "The customer resumed marketing messages in WhatsApp.",
}
KEY_RE = re.compile(r"\[user_preferences:(\d+):(\d+):(\w+)\]$")


def _key_tag(item: UserPreference) -> str:
    return f"[{SOURCE}:{item.key}]"


def _recorded_at(event: ConsentEvent) -> int | None:
    """The platform's timestamp of a ledger event written here (None for other details)."""
    match = KEY_RE.search(event.detail)
    return int(match.group(2)) if match else None


@transaction.atomic
def user_preference_apply(*, item: UserPreference) -> ConsentEvent | None:
    """Records a stop/resume of marketing messages once; None when nothing was recorded.

    Call in the company's schema. Nothing is recorded for an unknown customer (no contact
    is made for a preference alone), another category, a replay, or a stale change.
    """
    action = ACTIONS.get(item.value)
    if item.category != CATEGORY or action is None:
        logger.info("user preference %s/%s ignored", item.category, item.value)
        return None
    contact = (
        Contact.objects.select_for_update()
        .filter(Q(wa_id=item.wa_id) | Q(phone=phone_from_wa_id(item.wa_id)))
        .order_by("id")
        .first()
    )
    if contact is None:
        logger.info("user preference %s for an unknown customer: nothing recorded", item.value)
        return None
    tag = _key_tag(item)
    if ConsentEvent.objects.filter(contact=contact, source=SOURCE, detail__endswith=tag).exists():
        return None
    latest = ConsentEvent.objects.filter(contact=contact, source=SOURCE).order_by("-created_at", "-id").first()
    latest_at = _recorded_at(latest) if latest is not None else None
    if latest_at is not None and latest_at > int(item.timestamp.timestamp()):
        logger.info("user preference %s older than the one recorded: not applied", item.value)
        return None
    detail = f"{item.detail or DEFAULT_DETAIL[item.value]} {tag}"
    return contacts.consent_record(
        contact=contact, action=action, purpose=ConsentEvent.Purpose.MARKETING, source=SOURCE, detail=detail
    )
