"""Factories for broadcast tests. Use them inside a tenant schema."""

from __future__ import annotations

import factory

from inbox.models import Broadcast, Template
from inbox.tests.factories import ContactFactory, PhoneNumberFactory, TemplateFactory


class OptedInContactFactory(ContactFactory):
    opted_in = True


class MarketingTemplateFactory(TemplateFactory):
    category = Template.Category.MARKETING
    body = "Hi! {{1}} off this week only."


class BroadcastFactory(factory.django.DjangoModelFactory[Broadcast]):
    """A draft to all opted-in contacts; start it with services.broadcast_start."""

    class Meta:
        model = Broadcast

    name = factory.Sequence(lambda n: f"Campaign {n}")
    template = factory.SubFactory(TemplateFactory)
    template_parameters = factory.LazyFunction(lambda: ["Ada", "A-1"])
    phone_number = factory.SubFactory(PhoneNumberFactory)
    audience = factory.LazyFunction(lambda: {"type": "all"})
