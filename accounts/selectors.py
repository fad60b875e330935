"""Every read of agents, invitations and API keys used by views and tasks.

The `_get_for_manager` functions are the only door from a URL to a row: they answer 404
for anything outside the current company's schema (another company's id looks unknown).
"""

from __future__ import annotations

import hashlib
import uuid

from django.core.exceptions import PermissionDenied
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.errors import InvitationUnusableError
from accounts.models import ApiKey, Invitation, User

_ROLE_ORDER = Case(
    When(role=User.Role.OWNER, then=Value(0)),
    When(role=User.Role.ADMIN, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def _manager_check(actor: User) -> None:
    if not actor.can_manage_team:
        raise PermissionDenied(_("Only owners and admins can manage the team."))


def user_list() -> QuerySet[User]:
    """The company's agents: active first, then owners, admins, agents, by name."""
    return User.objects.order_by("-is_active", _ROLE_ORDER, "name", "email")


def user_get_for_manager(*, actor: User, public_id: uuid.UUID) -> User:
    """The agent with this id in the actor's company, or 404; PermissionDenied for agents."""
    _manager_check(actor)
    return get_object_or_404(User, public_id=public_id)


def invitation_list_pending() -> QuerySet[Invitation]:
    """Invitations that can still be accepted, newest first."""
    return (
        Invitation.objects.filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("invited_by")
        .order_by("-created_at", "-id")
    )


def invitation_get_for_manager(*, actor: User, public_id: uuid.UUID) -> Invitation:
    """The invitation with this id in the actor's company, or 404; PermissionDenied for agents."""
    _manager_check(actor)
    return get_object_or_404(Invitation, public_id=public_id)


INVITATION_UNKNOWN = _("This invitation link is not valid. Check that you copied all of it.")
INVITATION_USED = _("This invitation has already been used. Log in with your e-mail and password.")
INVITATION_REVOKED = _("This invitation was withdrawn. Ask your team for a new one.")
INVITATION_EXPIRED = _("This invitation has expired. Ask your team for a new one.")


def invitation_get_for_accept(*, token: str) -> Invitation:
    """The pending invitation whose link carries `token`; InvitationUnusableError says why not."""
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    invitation = Invitation.objects.filter(token_hash=token_hash).first()
    if invitation is None:
        raise InvitationUnusableError(INVITATION_UNKNOWN, is_unknown=True)
    if invitation.accepted_at is not None:
        raise InvitationUnusableError(INVITATION_USED)
    if invitation.revoked_at is not None:
        raise InvitationUnusableError(INVITATION_REVOKED)
    if not invitation.is_pending:
        raise InvitationUnusableError(INVITATION_EXPIRED)
    return invitation


def api_key_list() -> QuerySet[ApiKey]:
    """The company's API keys, active and revoked, newest first."""
    return ApiKey.objects.select_related("created_by").order_by("-created_at", "-id")


def api_key_get_for_manager(*, actor: User, public_id: uuid.UUID) -> ApiKey:
    """The key with this id in the actor's company, or 404; PermissionDenied for agents."""
    _manager_check(actor)
    return get_object_or_404(ApiKey, public_id=public_id)
