"""Contacts and their consent ledger."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils.translation import gettext_lazy

from accounts.models import User
from inbox.models import ConsentEvent, Contact, Label, PrivacyLog, Thread
from inbox.phones import phone_normalize

CONTACT_PHONE_TAKEN = gettext_lazy("A contact with this phone number already exists.")
ATTRIBUTES_INVALID = gettext_lazy("Attributes must be an object of names to text, number or true/false values.")


def contact_get_or_create(*, phone: str, profile_name: str = "", wa_id: str = "") -> tuple[Contact, bool]:
    """The contact with this E.164 phone, made if missing; refreshes the WhatsApp profile name.

    Safe under concurrency: two inbound messages from a new number make one contact.
    """
    contact = Contact.objects.filter(phone=phone).first()
    created = False
    if contact is None:
        try:
            with transaction.atomic():
                contact = Contact.objects.create(phone=phone, profile_name=profile_name[:200], wa_id=wa_id)
                created = True
        except IntegrityError:
            contact = Contact.objects.get(phone=phone)
    changed = []
    if profile_name and contact.profile_name != profile_name[:200]:
        contact.profile_name = profile_name[:200]
        changed.append("profile_name")
    if wa_id and contact.wa_id != wa_id:
        contact.wa_id = wa_id
        changed.append("wa_id")
    if changed and not created:
        contact.save(update_fields=[*changed, "updated_at"])
    return contact, created


def _attributes_clean(attributes: Any) -> dict[str, Any]:
    if not isinstance(attributes, dict) or not all(
        isinstance(k, str) and (v is None or isinstance(v, str | int | float | bool)) for k, v in attributes.items()
    ):
        raise ValidationError({"attributes": [ATTRIBUTES_INVALID]})
    return attributes


def _labels_get_or_create(names: list[str]) -> list[Label]:
    cleaned = sorted({n.strip()[:50] for n in names if n and n.strip()})
    existing = {label.name: label for label in Label.objects.filter(name__in=cleaned)}
    for name in cleaned:
        if name not in existing:
            existing[name], _ = Label.objects.get_or_create(name=name)
    return [existing[name] for name in cleaned]


@transaction.atomic
def contact_create(
    *,
    phone: str,
    name: str = "",
    attributes: dict[str, Any] | None = None,
    labels: list[str] | None = None,
    opted_in: bool = False,
    consent_source: str = "api",
    recorded_by: User | None = None,
) -> Contact:
    """Makes a contact; with `opted_in` also records the opt-in in the ledger."""
    phone = phone_normalize(phone)
    if Contact.objects.filter(phone=phone).exists():
        raise ValidationError({"phone": [CONTACT_PHONE_TAKEN]})
    contact = Contact(phone=phone, name=name.strip()[:200], attributes=_attributes_clean(attributes or {}))
    contact.full_clean(exclude=["labels"])
    contact.save()
    if labels:
        contact.labels.set(_labels_get_or_create(labels))
    if opted_in:
        consent_record(contact=contact, action="opt_in", source=consent_source, recorded_by=recorded_by)
    return contact


@transaction.atomic
def contact_update(
    *,
    contact: Contact,
    name: str | None = None,
    phone: str | None = None,
    attributes: dict[str, Any] | None = None,
    labels: list[str] | None = None,
) -> Contact:
    """Changes the given fields only; attributes are merged (a null value removes a key)."""
    fields: list[str] = []
    if name is not None:
        contact.name = name.strip()[:200]
        fields.append("name")
    if phone is not None:
        normalized = phone_normalize(phone)
        if Contact.objects.filter(phone=normalized).exclude(pk=contact.pk).exists():
            raise ValidationError({"phone": [CONTACT_PHONE_TAKEN]})
        contact.phone = normalized
        fields.append("phone")
    if attributes is not None:
        merged = {**contact.attributes, **_attributes_clean(attributes)}
        contact.attributes = {k: v for k, v in merged.items() if v is not None}
        fields.append("attributes")
    if fields:
        contact.save(update_fields=[*fields, "updated_at"])
    if labels is not None:
        contact.labels.set(_labels_get_or_create(labels))
    return contact


@transaction.atomic
def contact_delete(*, contact: Contact, actor: Any = None) -> None:
    """Deletes the contact with its threads, messages and consent ledger.

    Logged in the same transaction (PrivacyLog, DELETE_CONTACT): a summary row with counts,
    and one row per deleted thread naming it (`from_public_id`), from which the agents' open
    thread lists take its row out and an open page of it learns it was deleted
    (inbox/services/merge.py thread_ids_gone, thread_was_deleted). The contact's row lock
    comes first, as inbound processing takes it before booking a message, so no thread is
    added unlogged meanwhile.
    """
    from inbox.services.privacy import _actor_user, actor_label  # privacy imports this module

    locked = Contact.objects.select_for_update().filter(pk=contact.pk).first()
    if locked is None:
        return
    threads = list(
        Thread.objects.filter(contact=locked)
        .annotate(message_count=Count("messages"))
        .order_by("pk")
        .values_list("public_id", "message_count")
    )
    who = {"actor": _actor_user(actor), "actor_label": actor_label(actor) if actor is not None else ""}
    PrivacyLog.objects.bulk_create(
        [
            PrivacyLog(
                action=PrivacyLog.Action.DELETE_CONTACT,
                contact_public_id=locked.public_id,
                counts={"threads": len(threads), "messages": sum(count for _id, count in threads)},
                **who,
            ),
            *(
                PrivacyLog(
                    action=PrivacyLog.Action.DELETE_CONTACT,
                    contact_public_id=locked.public_id,
                    from_public_id=public_id,
                    counts={"messages": count},
                    **who,
                )
                for public_id, count in threads
            ),
        ]
    )
    locked.delete()


@transaction.atomic
def consent_record(
    *,
    contact: Contact,
    action: str,
    purpose: str = ConsentEvent.Purpose.ALL,
    source: str,
    detail: str = "",
    recorded_by: User | None = None,
) -> ConsentEvent:
    """Appends an opt-in/opt-out to the ledger and refreshes the contact's cached flags.

    Flags (API.md): opted_in when the latest all-purpose event is an opt-in, opted_out when
    it is an opt-out, marketing_opted_out when the latest marketing event is an opt-out.
    An all-purpose opt-in also lifts a marketing opt-out: "START" means everything again.
    """
    if action not in ConsentEvent.Action.values:
        raise ValidationError({"action": ["Choose opt_in or opt_out."]})
    if purpose not in ConsentEvent.Purpose.values:
        raise ValidationError({"purpose": ["Choose all or marketing."]})
    source = (source or "").strip()
    if not source:
        raise ValidationError({"source": ["Say where the consent came from."]})
    # Lock the contact so concurrent events apply their flags in ledger order.
    Contact.objects.select_for_update().filter(pk=contact.pk).first()
    event = ConsentEvent.objects.create(
        contact=contact, action=action, purpose=purpose, source=source[:100], detail=detail, recorded_by=recorded_by
    )
    if purpose == ConsentEvent.Purpose.ALL:
        contact.opted_in = action == ConsentEvent.Action.OPT_IN
        contact.opted_out = action == ConsentEvent.Action.OPT_OUT
        if action == ConsentEvent.Action.OPT_IN:
            contact.marketing_opted_out = False
    else:
        contact.marketing_opted_out = action == ConsentEvent.Action.OPT_OUT
    contact.save(update_fields=["opted_in", "opted_out", "marketing_opted_out", "updated_at"])
    return event
