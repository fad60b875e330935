"""STOP/START keywords: the consent ledger changes and the customer gets a confirmation."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from inbox.models import ConsentEvent, Contact, Message, PhoneNumber
from inbox.tests.webhook_payloads import (
    CUSTOMER,
    DISPLAY_A,
    NUMBER_A,
    connect,
    envelope_build,
    post,
    post_and_process,
    process,
    text_message_item,
)
from tenants.models import Company


@pytest.fixture
def number_a(company_a: Company) -> PhoneNumber:
    return connect(company_a, NUMBER_A, DISPLAY_A)


def _says(text: str, **kw: Any) -> dict[str, Any]:
    return envelope_build(phone_number_id=NUMBER_A, messages=[text_message_item(sender=CUSTOMER, text=text, **kw)])


@pytest.mark.parametrize("word", ["STOP", " stop ", "Stopp", "ABMELDEN", "unsubscribe"])
def test_stop_word_opts_out_and_confirms(
    public_client: Client, company_a: Company, number_a: PhoneNumber, word: str
) -> None:
    # when
    post_and_process(public_client, _says(word))
    # then
    with schema_context(company_a.schema_name):
        contact = Contact.objects.get(phone=CUSTOMER)
        assert contact.opted_out is True
        event = ConsentEvent.objects.get(contact=contact)
        assert (event.action, event.purpose, event.source, event.detail) == ("opt_out", "all", "keyword", word.strip())
        reply = Message.objects.get(direction=Message.Direction.OUTBOUND)
        assert reply.status == Message.Status.QUEUED
        assert reply.text.startswith("You have been unsubscribed: Acme Pizza")
        assert reply.thread.contact == contact


def test_confirmation_is_delivered_after_commit(
    public_client: Client, company_a: Company, number_a: PhoneNumber, django_capture_on_commit_callbacks: Any
) -> None:
    # given
    event = post(public_client, _says("STOP"))
    # when
    with django_capture_on_commit_callbacks() as callbacks:
        process(event)
    # then: the delivery task of the confirmation
    assert len(callbacks) == 1


def test_start_opts_in_again_and_confirms(public_client: Client, company_a: Company, number_a: PhoneNumber) -> None:
    # given
    post_and_process(public_client, _says("STOP"))
    # when
    post_and_process(public_client, _says("start"))
    # then
    with schema_context(company_a.schema_name):
        contact = Contact.objects.get(phone=CUSTOMER)
        assert (contact.opted_in, contact.opted_out) == (True, False)
        assert list(ConsentEvent.objects.order_by("id").values_list("action", flat=True)) == ["opt_out", "opt_in"]
        latest = Message.objects.filter(direction=Message.Direction.OUTBOUND).order_by("-id").first()
        assert latest is not None
        assert latest.text.startswith("You are subscribed again")


@pytest.mark.parametrize("text", ["please stop sending", "STOP!", "stopping by later"])
def test_a_sentence_with_the_word_is_just_a_message(
    public_client: Client, company_a: Company, number_a: PhoneNumber, text: str
) -> None:
    # when
    post_and_process(public_client, _says(text))
    # then
    with schema_context(company_a.schema_name):
        assert not ConsentEvent.objects.exists()
        assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_a_replayed_stop_from_two_days_ago_opts_out_without_a_late_confirmation(
    public_client: Client, company_a: Company, number_a: PhoneNumber
) -> None:
    # when: its window closed long ago
    post_and_process(public_client, _says("STOP", at=time.time() - 48 * 3600))
    # then
    with schema_context(company_a.schema_name):
        assert Contact.objects.get(phone=CUSTOMER).opted_out is True
        assert not Message.objects.filter(direction=Message.Direction.OUTBOUND).exists()


def test_the_same_stop_delivered_twice_is_recorded_once(
    public_client: Client, company_a: Company, number_a: PhoneNumber
) -> None:
    # given
    payload = _says("STOP", wamid="wamid.STOP1")
    # when
    post_and_process(public_client, payload)
    post_and_process(public_client, payload)
    # then
    with schema_context(company_a.schema_name):
        assert ConsentEvent.objects.count() == 1
        assert Message.objects.filter(direction=Message.Direction.OUTBOUND).count() == 1
