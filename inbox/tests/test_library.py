"""inbox.services.library: labels and canned replies, as Settings manages them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from inbox.models import CannedReply, Label
from inbox.services import library
from inbox.tests.factories import CannedReplyFactory, LabelFactory, LabelledThreadFactory
from tenants.models import Company


def test_creates_a_label_with_a_tidy_name_and_lowercase_color(tenant_a: Company) -> None:
    # when
    label = library.label_create(name="  VIP   customer ", color="#AABBCC")
    # then
    assert (label.name, label.color) == ("VIP customer", "#aabbcc")


def test_refuses_a_label_name_taken_in_another_case(tenant_a: Company) -> None:
    # given
    LabelFactory(name="VIP")
    # when
    with pytest.raises(ValidationError) as caught:
        library.label_create(name="vip", color="#112233")
    # then
    assert caught.value.message_dict == {"name": [library.LABEL_NAME_TAKEN.format(name="vip")]}


def test_refuses_an_empty_name_a_comma_and_a_bad_color_by_field(tenant_a: Company) -> None:
    # when
    with pytest.raises(ValidationError) as empty:
        library.label_create(name="  ", color="red")
    with pytest.raises(ValidationError) as comma:
        library.label_create(name="a,b", color="#112233")
    # then
    assert empty.value.message_dict == {"name": [library.LABEL_NAME_REQUIRED], "color": [library.COLOR_INVALID]}
    assert comma.value.message_dict == {"name": [library.LABEL_NAME_COMMA]}


def test_renaming_keeps_the_label_on_its_threads(tenant_a: Company) -> None:
    # given
    label = LabelFactory(name="urgent")
    thread = LabelledThreadFactory(labels=[label])
    # when
    library.label_update(label=label, name="Urgent!", color="#ff0000")
    # then
    assert [found.name for found in thread.labels.all()] == ["Urgent!"]


def test_a_label_may_keep_its_own_name_in_another_case(tenant_a: Company) -> None:
    # given
    label = LabelFactory(name="vip")
    # when
    library.label_update(label=label, name="VIP", color="#000000")
    # then
    label.refresh_from_db()
    assert label.name == "VIP"


def test_deleting_a_label_takes_it_off_threads_and_says_how_many(tenant_a: Company) -> None:
    # given
    label = LabelFactory(name="old")
    thread = LabelledThreadFactory(labels=[label])
    LabelledThreadFactory(labels=[label])
    # when
    used_on = library.label_delete(label=label)
    # then
    assert used_on == 2
    assert not Label.objects.filter(name="old").exists()
    assert list(thread.labels.all()) == []


def test_creates_a_canned_reply_with_a_lowercase_shortcut(tenant_a: Company) -> None:
    # when
    reply = library.canned_reply_create(shortcut="/Opening-Hours", title=" Opening hours ", body=" 9 to 5 ")
    # then
    assert (reply.shortcut, reply.title, reply.body) == ("opening-hours", "Opening hours", "9 to 5")


def test_refuses_a_malformed_or_taken_shortcut_by_field(tenant_a: Company) -> None:
    # given
    CannedReplyFactory(shortcut="thanks")
    # when
    with pytest.raises(ValidationError) as malformed:
        library.canned_reply_create(shortcut="two words", title="x", body="y")
    with pytest.raises(ValidationError) as taken:
        library.canned_reply_create(shortcut="THANKS", title="x", body="y")
    # then
    assert malformed.value.message_dict == {"shortcut": [library.SHORTCUT_INVALID]}
    assert taken.value.message_dict == {"shortcut": [library.SHORTCUT_TAKEN.format(shortcut="thanks")]}


def test_refuses_a_reply_without_title_or_text(tenant_a: Company) -> None:
    # when
    with pytest.raises(ValidationError) as caught:
        library.canned_reply_create(shortcut="ok", title=" ", body="")
    # then
    assert caught.value.message_dict == {"title": [library.TITLE_REQUIRED], "body": [library.BODY_REQUIRED]}


def test_updates_and_deletes_a_canned_reply(tenant_a: Company) -> None:
    # given
    reply = CannedReplyFactory(shortcut="hi")
    # when
    library.canned_reply_update(canned_reply=reply, shortcut="hello", title="Hello", body="Hello there!")
    reply.refresh_from_db()
    saved = (reply.shortcut, reply.title, reply.body)
    library.canned_reply_delete(canned_reply=reply)
    # then
    assert saved == ("hello", "Hello", "Hello there!")
    assert not CannedReply.objects.exists()
