from __future__ import annotations

import factory

from accounts.models import User


class OperatorFactory(factory.django.DjangoModelFactory):
    """A platform operator: a staff user of the public schema."""

    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"operator{n}@kontakt.test")
    name = factory.Sequence(lambda n: f"Operator {n}")
    role = User.Role.OWNER
    is_staff = True
    is_superuser = True
    password = factory.django.Password("operator-password-123")
