"""Rows for accounts tests. Create them inside a company's schema (the `tenant_a` fixture)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import factory
from django.utils import timezone

from accounts.models import Invitation, User
from conftest import PASSWORD


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"agent{n}@example.test")
    name = factory.Sequence(lambda n: f"Agent {n}")
    role = User.Role.AGENT
    password = factory.django.Password(PASSWORD)


class InvitationFactory(factory.django.DjangoModelFactory[Invitation]):
    """A pending invitation; pass `token=` to know the link's secret."""

    class Meta:
        model = Invitation

    class Params:
        token = factory.LazyFunction(lambda: secrets.token_urlsafe(32))

    email = factory.Sequence(lambda n: f"invitee{n}@example.test")
    role = User.Role.AGENT
    token_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.token.encode()).hexdigest())
    invited_by = None
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=72))
