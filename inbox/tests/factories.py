"""Factories for inbox rows. Use them inside a tenant schema (fixtures tenant_a/tenant_b)."""

from __future__ import annotations

import factory
from django.utils import timezone

from inbox.models import CannedReply, Contact, Label, Message, Note, PhoneNumber, Template, Thread

# --- core (contacts, threads, messages) --------------------------------------------------


class PhoneNumberFactory(factory.django.DjangoModelFactory[PhoneNumber]):
    class Meta:
        model = PhoneNumber

    phone_number_id = factory.Sequence(lambda n: f"77000000{n:07d}")
    display_number = factory.Sequence(lambda n: f"+4930{n:07d}")
    access_token = "test-access-token"


class LabelFactory(factory.django.DjangoModelFactory[Label]):
    class Meta:
        model = Label
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"label-{n}")


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    phone = factory.Sequence(lambda n: f"+49151{n:08d}")
    name = factory.Faker("name")


class ThreadFactory(factory.django.DjangoModelFactory[Thread]):
    class Meta:
        model = Thread

    contact = factory.SubFactory(ContactFactory)
    phone_number = factory.SubFactory(PhoneNumberFactory)
    last_message_at = factory.LazyFunction(timezone.now)

    class Params:
        # The customer wrote just now: the 24-hour window is open.
        window_open = factory.Trait(last_inbound_at=factory.LazyFunction(timezone.now))


class MessageFactory(factory.django.DjangoModelFactory[Message]):
    class Meta:
        model = Message

    thread = factory.SubFactory(ThreadFactory)
    direction = Message.Direction.INBOUND
    type = Message.Type.TEXT
    text = factory.Faker("sentence")
    status = Message.Status.RECEIVED
    wamid = factory.Sequence(lambda n: f"wamid.TEST{n:012d}")


class CannedReplyFactory(factory.django.DjangoModelFactory[CannedReply]):
    class Meta:
        model = CannedReply

    shortcut = factory.Sequence(lambda n: f"reply{n}")
    title = factory.Sequence(lambda n: f"Reply {n}")
    body = "Thanks for your message! We will get back to you shortly."


class TemplateFactory(factory.django.DjangoModelFactory[Template]):
    class Meta:
        model = Template

    name = factory.Sequence(lambda n: f"template_{n}")
    language = "en"
    category = Template.Category.UTILITY
    body = "Hello {{1}}, your order {{2}} has shipped."
    status = Template.Status.APPROVED


# --- provider traffic (inbound webhooks, outbound sends) -----------------------------------


class OutboundMessageFactory(MessageFactory):
    """A message an agent sent; `queued` until the delivery task ran."""

    direction = Message.Direction.OUTBOUND
    status = Message.Status.QUEUED
    status_rank = 0
    wamid = None

    class Params:
        # Accepted by the provider: it has a wamid and is `sent`.
        accepted = factory.Trait(
            status=Message.Status.SENT,
            status_rank=Message.STATUS_RANK[Message.Status.SENT],
            wamid=factory.Sequence(lambda n: f"wamid.OUT{n:012d}"),
        )


# --- browser inbox (notes) ---------------------------------------------------------------


class NoteFactory(factory.django.DjangoModelFactory[Note]):
    class Meta:
        model = Note

    thread = factory.SubFactory(ThreadFactory)
    body = factory.Faker("sentence")


# --- the REST API's tests: rows with labels -------------------------------------------------


class LabelledContactFactory(ContactFactory):
    """`LabelledContactFactory(labels=[label, …])`."""

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def labels(self, create: bool, extracted: list[Label] | None, **kwargs: object) -> None:
        if create and extracted:
            self.labels.set(extracted)


class LabelledThreadFactory(ThreadFactory):
    """`LabelledThreadFactory(labels=[label, …])`."""

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def labels(self, create: bool, extracted: list[Label] | None, **kwargs: object) -> None:
        if create and extracted:
            self.labels.set(extracted)
