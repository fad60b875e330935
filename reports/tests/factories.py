"""Factories for report tests (rows the inbox makes in production through its services)."""

from __future__ import annotations

import factory
from django.utils import timezone

from inbox.models import CsatResponse, CsatSurvey, Delivery
from inbox.tests.factories import ThreadFactory


class CsatSurveyFactory(factory.django.DjangoModelFactory[CsatSurvey]):
    class Meta:
        model = CsatSurvey

    thread = factory.SubFactory(ThreadFactory)
    resolved_at = factory.LazyFunction(timezone.now)


class CsatResponseFactory(factory.django.DjangoModelFactory[CsatResponse]):
    """`CsatResponseFactory(thread=…, agent=…, rating=4, labels=[…])`."""

    class Meta:
        model = CsatResponse
        skip_postgeneration_save = True

    survey = factory.SubFactory(CsatSurveyFactory, thread=factory.SelfAttribute("..thread"))
    thread = factory.SubFactory(ThreadFactory)
    rating = 5

    @factory.post_generation
    def labels(self, create: bool, extracted: list[object] | None, **kwargs: object) -> None:
        if create and extracted:
            self.labels.set(extracted)


class DeliveryFactory(factory.django.DjangoModelFactory[Delivery]):
    class Meta:
        model = Delivery

    status = Delivery.Status.SENT
