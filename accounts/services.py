"""Every write on agents, invitations and API keys."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts import tasks
from accounts.models import ApiKey, Invitation, User
from billing import services as billing
from tenants.models import Company
from tenants.services import company_url

logger = logging.getLogger(__name__)

API_KEY_PREFIX = "kt"
# last_used_at is written at most this often per key, so a busy key costs no write per call.
API_KEY_TOUCH_INTERVAL = timedelta(seconds=60)


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    key: str  # the full secret, shown once


@transaction.atomic
def api_key_create(*, name: str, created_by: User | None = None) -> IssuedApiKey:
    """Makes a key for the current company's schema; the clear key exists only in the result."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["Give the key a name."]})
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(name=name[:100], prefix=prefix, key_hash=_sha256(key), created_by=created_by)
    return IssuedApiKey(api_key=api_key, key=key)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revokes the key at once; revoking twice keeps the first time."""
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def api_key_authenticate(*, key: str) -> ApiKey | None:
    """The active key of the current schema matching `key`, or None. Touches last_used_at."""
    # The random part is URL-safe base64 and may itself contain "_".
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    api_key = ApiKey.objects.filter(prefix=parts[1], revoked_at__isnull=True).first()
    if api_key is None or not secrets.compare_digest(api_key.key_hash, _sha256(key)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > API_KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


# --- team: deactivation, reactivation -------------------------------------------------------

CANNOT_DEACTIVATE_SELF = _("You cannot deactivate yourself.")
LAST_OWNER = _("The company needs at least one active owner; make someone else an owner first.")
OWNER_NEEDS_OWNER = _("Only an owner can change another owner's account.")
NOT_A_MANAGER = _("Only owners and admins can manage the team.")


def _manager_check(actor: User) -> None:
    if not (actor.is_active and actor.can_manage_team):
        raise PermissionDenied(NOT_A_MANAGER)


def _owner_change_check(*, actor: User, role: str) -> None:
    if role == User.Role.OWNER and actor.role != User.Role.OWNER:
        raise ValidationError(OWNER_NEEDS_OWNER)


def _active_owners_lock() -> list[User]:
    """Locks the active owners' rows, ordered by pk so concurrent callers never deadlock."""
    return list(User.objects.select_for_update().filter(role=User.Role.OWNER, is_active=True).order_by("pk"))


@transaction.atomic
def user_deactivate(*, actor: User, user: User) -> User:
    """Deactivates an agent: no more logins, and their open sessions stop working.

    Raises PermissionDenied unless the actor manages the team, ValidationError for
    self-deactivation, an admin touching an owner, or the last active owner.
    """
    _manager_check(actor)
    if user.pk == actor.pk:
        raise ValidationError(CANNOT_DEACTIVATE_SELF)
    _owner_change_check(actor=actor, role=user.role)
    if user.role == User.Role.OWNER:
        # Two owners deactivating each other at once: the row lock makes the second see
        # that only one owner would remain.
        remaining = [owner for owner in _active_owners_lock() if owner.pk != user.pk]
        if not remaining:
            raise ValidationError(LAST_OWNER)
    if not user.is_active:
        return user
    user.is_active = False
    user.deactivated_at = timezone.now()
    user.save(update_fields=["is_active", "deactivated_at"])
    logger.info("agent deactivated user=%s by=%s", user.public_id, actor.public_id)
    return user


@transaction.atomic
def user_reactivate(*, actor: User, user: User) -> User:
    """Lets a deactivated agent log in again (with their old password)."""
    _manager_check(actor)
    _owner_change_check(actor=actor, role=user.role)
    if user.is_active:
        return user
    billing.limits_reserve(company=company_current(), kind=billing.KIND_AGENT)
    user.is_active = True
    user.deactivated_at = None
    user.save(update_fields=["is_active", "deactivated_at"])
    logger.info("agent reactivated user=%s by=%s", user.public_id, actor.public_id)
    return user


# --- invitations -------------------------------------------------------------------------

INVITE_ROLE_NOT_ALLOWED = _("Only an owner can invite another owner.")
INVITE_ALREADY_MEMBER = _("This person is already on the team.")
INVITE_DEACTIVATED_MEMBER = _("This person has a deactivated account; reactivate it instead of inviting.")
INVITATION_NOT_PENDING = _("This invitation was already accepted, withdrawn or has expired.")
ACCEPT_ACCOUNT_EXISTS = _("An account with this e-mail already exists. Log in instead.")


def email_normalize(email: str) -> str:
    """The stored form of an e-mail address: trimmed and lowercase (logins compare this)."""
    return User.objects.normalize_email(email.strip()).lower()


def _invitation_pending_q() -> Q:
    return Q(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())


@transaction.atomic
def invitation_create(*, actor: User, email: str, role: str) -> Invitation:
    """Invites `email` to join with `role` and e-mails the link after commit.

    An earlier pending invitation to the same address is withdrawn, so only the newest
    link works. Raises ValidationError keyed by field (`email`, `role`).
    """
    _manager_check(actor)
    email = email_normalize(email)
    if role not in User.Role.values:
        raise ValidationError({"role": [_("Choose a role.")]})
    if role == User.Role.OWNER and actor.role != User.Role.OWNER:
        raise ValidationError({"role": [INVITE_ROLE_NOT_ALLOWED]})
    existing = User.objects.filter(email=email).first()
    if existing is not None:
        message = INVITE_ALREADY_MEMBER if existing.is_active else INVITE_DEACTIVATED_MEMBER
        raise ValidationError({"email": [message]})
    now = timezone.now()
    Invitation.objects.filter(_invitation_pending_q(), email=email).update(revoked_at=now)
    # An open invitation holds a seat: the plan's agent limit counts it (PlanLimitExceeded).
    billing.limits_reserve(company=company_current(), kind=billing.KIND_AGENT)
    invitation = Invitation(
        email=email,
        role=role,
        # Placeholder nobody knows: the link's token is made when the e-mail is sent.
        token_hash=_sha256(secrets.token_urlsafe(32)),
        invited_by=actor,
        expires_at=now + timedelta(hours=settings.INVITATION_TTL_HOURS),
    )
    invitation.full_clean()
    invitation.save()
    # The e-mail speaks the inviter's current language: the invitee has no profile yet.
    tasks.invitation_email_send_task.delay_on_commit(invitation.pk, translation.get_language())
    logger.info("invitation created invitation=%s role=%s by=%s", invitation.public_id, role, actor.public_id)
    return invitation


def invitation_email_send(*, invitation_id: int, language: str | None = None) -> Invitation | None:
    """E-mails a fresh link for a pending invitation; returns None (and sends nothing) otherwise.

    The clear token exists only in this e-mail: a new one replaces the stored hash on each
    send, so a repeated delivery of the task sends a working link and voids the older one.
    """
    token = secrets.token_urlsafe(32)
    claimed = Invitation.objects.filter(_invitation_pending_q(), pk=invitation_id).update(token_hash=_sha256(token))
    if not claimed:
        logger.info("invitation e-mail skipped, not pending id=%s", invitation_id)
        return None
    invitation = Invitation.objects.select_related("invited_by").get(pk=invitation_id)
    company = company_current()
    context = {
        "company": company,
        "invitation": invitation,
        "inviter": invitation.invited_by,
        "accept_url": company_url(company, reverse("invitation_accept", kwargs={"token": token})),
    }
    reply_to = [invitation.invited_by.email] if invitation.invited_by else []
    with translation.override(language or settings.LANGUAGE_CODE):
        _email_send(template="invitation", to=invitation.email, context=context, reply_to=reply_to)
    return invitation


@transaction.atomic
def invitation_revoke(*, actor: User, invitation: Invitation) -> Invitation:
    """Withdraws a pending invitation; its link stops working at once."""
    _manager_check(actor)
    _owner_change_check(actor=actor, role=invitation.role)
    revoked = Invitation.objects.filter(_invitation_pending_q(), pk=invitation.pk).update(revoked_at=timezone.now())
    if not revoked:
        raise ValidationError(INVITATION_NOT_PENDING)
    invitation.refresh_from_db(fields=["revoked_at"])
    return invitation


@transaction.atomic
def invitation_accept(*, invitation: Invitation, name: str, password: str) -> User:
    """Creates the invited agent with the invitation's role and marks it accepted.

    The caller has validated the password. Raises ValidationError when the invitation is
    no longer pending (claimed with a conditional UPDATE, so two submits make one user)
    or the e-mail already has an account.
    """
    claimed = Invitation.objects.filter(_invitation_pending_q(), pk=invitation.pk).update(accepted_at=timezone.now())
    if not claimed:
        raise ValidationError(INVITATION_NOT_PENDING)
    try:
        # A savepoint, so a lost race for the e-mail becomes a clean refusal, not a broken transaction.
        with transaction.atomic():
            user = User.objects.create_user(invitation.email, password, name=name.strip()[:150], role=invitation.role)
    except IntegrityError as exc:
        raise ValidationError(ACCEPT_ACCOUNT_EXISTS) from exc
    invitation.refresh_from_db(fields=["accepted_at"])
    logger.info("invitation accepted invitation=%s user=%s", invitation.public_id, user.public_id)
    return user


# --- e-mail -----------------------------------------------------------------------------


def company_current() -> Company:
    """The company whose schema the connection is in (a worker sets the real tenant)."""
    tenant = connection.tenant
    if isinstance(tenant, Company):
        return tenant
    return Company.objects.get(schema_name=connection.schema_name)


def _email_send(*, template: str, to: str, context: dict[str, Any], reply_to: list[str] | None = None) -> None:
    """Sends the trio templates/emails/<template>-subject.txt, -body.txt, -body.html."""
    subject = " ".join(render_to_string(f"emails/{template}-subject.txt", context).split())
    body = render_to_string(f"emails/{template}-body.txt", context)
    html = render_to_string(f"emails/{template}-body.html", context)
    message = EmailMultiAlternatives(subject=subject, body=body, to=[to], reply_to=reply_to or None)
    message.attach_alternative(html, "text/html")
    message.send()


def user_language_set(*, user: User, language: str) -> User:
    """Store the agent's interface language; "" means follow the browser (docs/i18n.md)."""
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("Choose one of the offered languages.")})
    user.language = language
    user.save(update_fields=["language"])
    return user
