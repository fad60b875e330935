"""Verified business identity: the profile's state machine, the sender snapshot, verify links.

States (BusinessProfile.State):

    unverified --submit--> pending --verify--> verified
                              |                   |
                              +--reject--> rejected
    rejected --submit--> pending      verified --edit details--> pending (badge withdrawn)

- The owner submits (or edits) the details in settings; any submission makes it `pending`.
- Only an operator decides, and only a `pending` profile (VerificationStateError otherwise).
- Verifying copies the submitted names into `verified_*`: customers are shown those and
  never a name typed later. Editing the details of a verified company withdraws the badge
  at once and asks for review again: a badge that stayed while the name changed would
  vouch for a name nobody checked (an impostor who took over an account could rename it).
- Toggling the verify links alone changes nothing about the identity and keeps the state.

Every decision is written to the operator audit log in the same transaction.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from tenants.models import BusinessProfile, Company
from tenants.services import audit_record

DETAIL_FIELDS = ("legal_name", "display_name", "website", "registration_number", "address")
REASON_REQUIRED = _("Give the company a reason for the rejection.")
VERIFY_TOKEN_SALT = "kontakt.verify-link.v1"  # noqa: S105 - a signing salt, not a secret
# A link in an old message stays checkable for a year; older ones read as not valid.
VERIFY_TOKEN_MAX_AGE = 366 * 24 * 3600


class VerificationStateError(Exception):
    """The transition is not allowed from the profile's current state."""


def _profile_locked(company: Company) -> BusinessProfile:
    BusinessProfile.objects.get_or_create(company=company)
    return BusinessProfile.objects.select_for_update().get(company=company)


def _snapshot(profile: BusinessProfile) -> dict[str, Any]:
    return {
        "state": profile.state,
        "legal_name": profile.legal_name,
        "display_name": profile.display_name,
        "website": profile.website,
        "registration_number": profile.registration_number,
        "address": profile.address,
        "verified_display_name": profile.verified_display_name,
        "rejection_reason": profile.rejection_reason,
        "verify_links_enabled": profile.verify_links_enabled,
    }


def _details_clean(
    *, legal_name: str, display_name: str, website: str, registration_number: str, address: str
) -> dict[str, str]:
    data = {
        "legal_name": (legal_name or "").strip(),
        "display_name": (display_name or "").strip(),
        "website": (website or "").strip(),
        "registration_number": (registration_number or "").strip(),
        "address": (address or "").strip(),
    }
    errors: dict[str, list[str]] = {}
    for field, label, limit in (
        ("legal_name", "The legal name", 200),
        ("display_name", "The display name", 100),
        ("registration_number", "The registration number", 64),
        ("address", "The address", 1000),
    ):
        if not data[field]:
            errors[field] = [f"{label} is required."]
        elif len(data[field]) > limit:
            errors[field] = [f"{label} can hold at most {limit} characters."]
    if data["website"]:
        try:
            URLValidator(schemes=["https", "http"])(data["website"])
        except ValidationError:
            errors["website"] = ["Enter the full address of the website, e.g. https://example.com."]
        if len(data["website"]) > 200:
            errors["website"] = ["The website address can hold at most 200 characters."]
    if errors:
        raise ValidationError(errors)
    return data


@transaction.atomic
def business_profile_submit(
    *,
    company: Company,
    submitted_by: User | None,
    legal_name: str,
    display_name: str,
    website: str = "",
    registration_number: str,
    address: str,
    verify_links_enabled: bool = False,
) -> BusinessProfile:
    """The owner submits or edits the business details; they go to review (`pending`).

    A submission that changes no detail leaves a pending or verified profile as it is (only
    the verify-link setting may change), so saving an unchanged form never costs a verified
    company its badge; a rejected one goes back to review. Raises ValidationError (per
    field) on missing or malformed details.
    """
    data = _details_clean(
        legal_name=legal_name,
        display_name=display_name,
        website=website,
        registration_number=registration_number,
        address=address,
    )
    profile = _profile_locked(company)
    before = _snapshot(profile)
    changed = any(getattr(profile, field) != value for field, value in data.items())
    for field, value in data.items():
        setattr(profile, field, value)
    profile.verify_links_enabled = bool(verify_links_enabled)
    # A rejected company may also resubmit the same details (e.g. after sending documents).
    if changed or profile.state in (BusinessProfile.State.UNVERIFIED, BusinessProfile.State.REJECTED):
        profile.state = BusinessProfile.State.PENDING
        profile.submitted_at = timezone.now()
        profile.rejection_reason = ""
        # The badge goes with the change: customers must never see an unchecked name as verified.
        profile.verified_display_name = ""
        profile.verified_legal_name = ""
        profile.verified_website = ""
        profile.verified_at = None
    profile.save()
    after = _snapshot(profile)
    if before != after:
        audit_record(
            actor=None,
            actor_label=f"owner:{submitted_by.email}" if submitted_by is not None else "owner",
            action="business_profile.submit",
            company=company,
            target=company.slug or "",
            before=before,
            after=after,
        )
    return profile


@transaction.atomic
def company_verify(*, company: Company, actor: User | None, actor_label: str = "") -> BusinessProfile:
    """An operator verifies the pending details: the badge and the verified names appear."""
    profile = _profile_locked(company)
    if profile.state != BusinessProfile.State.PENDING:
        raise VerificationStateError(
            f"Cannot verify {company.slug}: its business details are {profile.state}, not pending review."
        )
    before = _snapshot(profile)
    now = timezone.now()
    profile.state = BusinessProfile.State.VERIFIED
    profile.rejection_reason = ""
    profile.verified_display_name = profile.display_name or company.name
    profile.verified_legal_name = profile.legal_name
    profile.verified_website = profile.website
    profile.verified_at = now
    profile.decided_at = now
    profile.decided_by = actor
    profile.decided_by_label = actor_label or (actor.email if actor is not None else "system")
    profile.save()
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action="company.verify",
        company=company,
        target=company.slug or "",
        before=before,
        after=_snapshot(profile),
    )
    return profile


@transaction.atomic
def company_verification_reject(
    *, company: Company, actor: User | None, reason: str, actor_label: str = ""
) -> BusinessProfile:
    """An operator rejects the pending details with a reason the owner is shown."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": [REASON_REQUIRED]})
    profile = _profile_locked(company)
    if profile.state != BusinessProfile.State.PENDING:
        raise VerificationStateError(
            f"Cannot reject {company.slug}: its business details are {profile.state}, not pending review."
        )
    before = _snapshot(profile)
    profile.state = BusinessProfile.State.REJECTED
    profile.rejection_reason = reason[:2000]
    profile.decided_at = timezone.now()
    profile.decided_by = actor
    profile.decided_by_label = actor_label or (actor.email if actor is not None else "system")
    profile.save()
    audit_record(
        actor=actor,
        actor_label=actor_label,
        action="company.verification_reject",
        company=company,
        target=company.slug or "",
        before=before,
        after=_snapshot(profile),
    )
    return profile


# --- what outbound messages carry ----------------------------------------------------------


def _company_of(tenant: Any) -> Company | None:
    """The Company for `connection.tenant`, which under `schema_context` is only a stand-in."""
    if isinstance(tenant, Company):
        return tenant
    schema = getattr(tenant, "schema_name", None)
    return Company.objects.filter(schema_name=schema).first() if schema else None


def sender_identity_snapshot(*, company: Company | Any | None) -> dict[str, Any]:
    """The identity an outbound message is stamped with at send time (Message.sender_identity).

    `{"name", "verified"}` plus `"verified_name"` while the company is verified. Kept on
    the message, so a later change of name or badge never rewrites what a customer saw.
    """
    company = _company_of(company)
    if company is None:
        return {"name": "", "verified": False}
    verified_name = (
        BusinessProfile.objects.filter(company_id=company.pk, state=BusinessProfile.State.VERIFIED)
        .values_list("verified_display_name", flat=True)
        .first()
    )
    identity: dict[str, Any] = {"name": company.name, "verified": verified_name is not None}
    if verified_name is not None:
        identity["verified_name"] = verified_name or company.name
    return identity


VERIFY_BUTTON_PLACEHOLDER = "/verify/{{1}}"


def verify_token_make(*, company: Company, phone: str) -> str:
    """A short signed token: company id, the business number's digits, issued-at (signing)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    return signing.dumps([company.pk, digits], salt=VERIFY_TOKEN_SALT, compress=True)


def verify_token_check(*, token: str, company_id: int | None, phone: str) -> bool:
    """True when the token was made by us for this company and this number, and is not too old.

    A forged, altered or expired token, or one made for another number or company, is False.
    """
    if not token or company_id is None:
        return False
    try:
        value = signing.loads(token, salt=VERIFY_TOKEN_SALT, max_age=VERIFY_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return False
    digits = "".join(ch for ch in phone if ch.isdigit())
    return isinstance(value, list) and value == [company_id, digits]


def public_verify_url(*, query: str = "") -> str:
    """The public check page's absolute URL (public host), with `query` appended."""
    port = f":{settings.PUBLIC_PORT}" if settings.PUBLIC_PORT else ""
    return f"{settings.PUBLIC_SCHEME}://{settings.BASE_DOMAIN}{port}/verify/{query}"


def verify_button_index(buttons: Any) -> int | None:
    """The index of the template's verify button: a URL button whose URL ends in
    `/verify/{{1}}`, the dynamic suffix the link's query fills (docs/identity.md)."""
    for index, button in enumerate(buttons or []):
        if not isinstance(button, dict):
            continue
        if str(button.get("type", "")).lower() == "url" and str(button.get("url", "")).endswith(
            VERIFY_BUTTON_PLACEHOLDER
        ):
            return index
    return None


def verify_link_payload(*, company: Company | Any | None, phone: str, buttons: Any) -> dict[str, Any]:
    """What a template message's `payload` carries for the verify link, or {} when none.

    Only when the company turned verify links on and the template has a verify button:
    the template body is never touched; the link is the button's parameter, and
    `verify_url` keeps the full link on the message for the inbox and the API.
    """
    index = verify_button_index(buttons)
    if index is None or not phone:
        return {}
    company = _company_of(company)
    if company is None:
        return {}
    if not BusinessProfile.objects.filter(company_id=company.pk, verify_links_enabled=True).exists():
        return {}
    suffix = "?" + urlencode({"phone": phone, "token": verify_token_make(company=company, phone=phone)})
    return {"verify_url": public_verify_url(query=suffix), "verify_button": {"index": index, "suffix": suffix}}
