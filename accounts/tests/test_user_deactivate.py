from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from accounts import services
from accounts.models import User
from accounts.tests.factories import UserFactory
from conftest import Persona
from tenants.models import Company


def test_owner_deactivates_another_owner(tenant_a: Company) -> None:
    # given
    carol = UserFactory(role=User.Role.OWNER)
    dave = UserFactory(role=User.Role.OWNER)
    # when
    services.user_deactivate(actor=carol, user=dave)
    # then
    dave.refresh_from_db()
    assert dave.is_active is False
    assert dave.deactivated_at is not None


def test_refuses_to_remove_the_last_active_owner_after_a_concurrent_deactivation(tenant_a: Company) -> None:
    # given: alice (the persona owner) is deactivated, then carol and dave each try to remove the other
    alice = User.objects.get(email="alice@acme.test")
    carol = UserFactory(role=User.Role.OWNER)
    dave = UserFactory(role=User.Role.OWNER)
    services.user_deactivate(actor=carol, user=alice)
    stale_dave = User.objects.get(pk=dave.pk)
    services.user_deactivate(actor=carol, user=dave)
    # when
    with pytest.raises(ValidationError) as exc_info:
        services.user_deactivate(actor=stale_dave, user=carol)
    # then
    assert exc_info.value.messages == [services.LAST_OWNER]
    assert User.objects.filter(role=User.Role.OWNER, is_active=True).count() == 1


def test_refuses_self_deactivation(tenant_a: Company) -> None:
    # given
    admin = UserFactory(role=User.Role.ADMIN)
    # when
    with pytest.raises(ValidationError) as exc_info:
        services.user_deactivate(actor=admin, user=admin)
    # then
    assert exc_info.value.messages == [services.CANNOT_DEACTIVATE_SELF]


def test_agent_may_not_deactivate_anyone(tenant_a: Company) -> None:
    # given
    agent = UserFactory(role=User.Role.AGENT)
    other = UserFactory(role=User.Role.AGENT)
    # when
    with pytest.raises(PermissionDenied):
        services.user_deactivate(actor=agent, user=other)
    # then
    other.refresh_from_db()
    assert other.is_active is True


def test_admin_may_not_reactivate_an_owner(alice: Persona, tenant_a: Company) -> None:
    # given
    admin = UserFactory(role=User.Role.ADMIN)
    owner = UserFactory(role=User.Role.OWNER, is_active=False)
    # when
    with pytest.raises(ValidationError) as exc_info:
        services.user_reactivate(actor=admin, user=owner)
    # then
    assert exc_info.value.messages == [services.OWNER_NEEDS_OWNER]
