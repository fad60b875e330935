"""Every read of inbox data used by views, the API and tasks.

The only way a view obtains a Thread, Contact or Message is through a `*_get` here, which
answers Http404 for anything the caller may not see (another company's object does not
exist in this schema, so it looks exactly like a missing one).
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404

from accounts.models import User
from inbox.models import CannedReply, ConsentEvent, Contact, Label, Message, Note, PhoneNumber, Template, Thread


def _uuid(value: Any) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError) as exc:
        raise Http404("Not found.") from exc


def thread_queryset() -> QuerySet[Thread]:
    """Threads with what their list rows and API objects show, in a fixed number of queries."""
    return Thread.objects.select_related("contact", "phone_number", "assignee").prefetch_related(
        Prefetch("labels", queryset=Label.objects.order_by("name"))
    )


def thread_get(*, public_id: Any) -> Thread:
    """The thread with this id in the current company, or Http404."""
    thread = thread_queryset().filter(public_id=_uuid(public_id)).first()
    if thread is None:
        raise Http404("Not found.")
    return thread


def thread_get_for_agent(*, agent: User, public_id: Any) -> Thread:
    """The thread as an agent may see it (every agent of a company sees all its threads)."""
    if not agent.is_active:
        raise Http404("Not found.")
    return thread_get(public_id=public_id)


def thread_list(
    *,
    status: str | None = None,
    assignee: User | None = None,
    unassigned: bool = False,
    label: str | None = None,
    search: str | None = None,
) -> QuerySet[Thread]:
    """Threads newest activity first, filtered; the caller pages by keyset."""
    qs = thread_queryset()
    if status:
        qs = qs.filter(status=status)
    if unassigned:
        qs = qs.filter(assignee__isnull=True)
    elif assignee is not None:
        qs = qs.filter(assignee=assignee)
    if label:
        qs = qs.filter(labels__name=label)
    if search:
        term = search.strip()
        matching_messages = Message.objects.filter(thread=OuterRef("pk"), text__icontains=term)
        qs = qs.filter(
            Q(contact__name__icontains=term)
            | Q(contact__profile_name__icontains=term)
            | Q(contact__phone__icontains=term)
            | Exists(matching_messages)
        )
    return qs.order_by("-last_message_at", "-id")


def message_list_for_thread(*, thread: Thread) -> QuerySet[Message]:
    """The thread's messages, newest first."""
    return Message.objects.filter(thread=thread).select_related("sent_by", "thread").order_by("-created_at", "-id")


def message_get(*, public_id: Any) -> Message:
    message = Message.objects.select_related("thread", "sent_by").filter(public_id=_uuid(public_id)).first()
    if message is None:
        raise Http404("Not found.")
    return message


def note_list_for_thread(*, thread: Thread) -> QuerySet[Note]:
    return Note.objects.filter(thread=thread).select_related("author").prefetch_related("mentions")


def contact_queryset() -> QuerySet[Contact]:
    return Contact.objects.prefetch_related(Prefetch("labels", queryset=Label.objects.order_by("name")))


def contact_get(*, public_id: Any) -> Contact:
    contact = contact_queryset().filter(public_id=_uuid(public_id)).first()
    if contact is None:
        raise Http404("Not found.")
    return contact


def contact_list(*, search: str | None = None, label: str | None = None) -> QuerySet[Contact]:
    qs = contact_queryset()
    if search:
        term = search.strip()
        qs = qs.filter(Q(name__icontains=term) | Q(profile_name__icontains=term) | Q(phone__icontains=term))
    if label:
        qs = qs.filter(labels__name=label)
    return qs.order_by("-created_at", "-id")


def consent_list_for_contact(*, contact: Contact) -> QuerySet[ConsentEvent]:
    return ConsentEvent.objects.filter(contact=contact).select_related("recorded_by").order_by("-created_at", "-id")


def phone_number_list() -> QuerySet[PhoneNumber]:
    return PhoneNumber.objects.order_by("id")


def phone_number_get(*, public_id: Any) -> PhoneNumber:
    number = PhoneNumber.objects.filter(public_id=_uuid(public_id)).first()
    if number is None:
        raise Http404("Not found.")
    return number


def phone_number_default() -> PhoneNumber | None:
    """The company's first connected number: the sender when none is named."""
    return PhoneNumber.objects.order_by("id").first()


def agent_list() -> QuerySet[User]:
    return User.objects.filter(is_active=True).order_by("name", "email")


def agent_get(*, public_id: Any) -> User:
    agent = User.objects.filter(public_id=_uuid(public_id), is_active=True).first()
    if agent is None:
        raise Http404("Not found.")
    return agent


def label_list() -> QuerySet[Label]:
    return Label.objects.order_by("name")


def canned_reply_list() -> QuerySet[CannedReply]:
    return CannedReply.objects.order_by("shortcut")


def template_list(*, approved_only: bool = False) -> QuerySet[Template]:
    qs = Template.objects.order_by("name", "language")
    if approved_only:
        qs = qs.filter(status=Template.Status.APPROVED)
    return qs


def template_get_approved(*, name: str, language: str) -> Template | None:
    return Template.objects.filter(name=name, language=language, status=Template.Status.APPROVED).first()
