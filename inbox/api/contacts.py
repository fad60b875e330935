"""Contacts and their consent ledger (design/API.md "Contacts")."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import CursorPagination, error_responses
from inbox import representations, selectors
from inbox.api import idempotency
from inbox.api.common import page_response
from inbox.api.objects import ConsentEventObject, ContactObject
from inbox.models import ConsentEvent
from inbox.services import contacts

ATTRIBUTES_HELP = (
    "Names to text, number or true/false values. On PATCH merged into the stored ones; null removes a key."
)
LABELS_HELP = _("Label names; labels that do not exist yet are made. On PATCH the whole set is replaced.")


class ContactListApi(APIView):
    """Contacts, newest first."""

    pagination_class = CursorPagination

    class FilterSerializer(serializers.Serializer[Any]):
        search = serializers.CharField(
            required=False, allow_blank=True, max_length=100, help_text="Part of the name or the phone number."
        )
        label = serializers.CharField(required=False, allow_blank=True, max_length=50, help_text="A label name.")

    @extend_schema(
        operation_id="contacts_list",
        summary="List contacts",
        parameters=[FilterSerializer],
        responses={200: ContactObject(many=True), **error_responses(400, 401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        contact_list = selectors.contact_list(search=data.get("search") or None, label=data.get("label") or None)
        return page_response(self, request, contact_list, representations.contact_data)


class ContactCreateApi(APIView):
    @extend_schema_serializer(component_name="ContactCreateInput")
    class InputSerializer(serializers.Serializer[Any]):
        phone = serializers.CharField(
            max_length=32, help_text="E.164 (`+4915112345678`); `0049…` and spaces are normalised."
        )
        name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
        attributes = serializers.DictField(required=False, default=dict, help_text=ATTRIBUTES_HELP)
        labels = serializers.ListField(
            child=serializers.CharField(max_length=50),
            required=False,
            default=list,
            max_length=50,
            help_text=LABELS_HELP,
        )
        opted_in = serializers.BooleanField(
            required=False, default=False, help_text="`true` records an opt-in with source `api` in the ledger."
        )

    @extend_schema(
        operation_id="contacts_create",
        summary="Create a contact",
        parameters=[idempotency.PARAMETER],
        request=InputSerializer,
        responses={201: ContactObject, **error_responses(400, 401, 403, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact = contacts.contact_create(**serializer.validated_data, consent_source="api")
        return Response(representations.contact_data(contact), status=201)


class ContactDetailApi(APIView):
    @extend_schema(
        operation_id="contacts_retrieve",
        summary="Get a contact",
        responses={200: ContactObject, **error_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:
        contact = selectors.contact_get(public_id=id)
        return Response(representations.contact_data(contact))


class ContactUpdateApi(APIView):
    @extend_schema_serializer(component_name="ContactUpdateInput")
    class InputSerializer(serializers.Serializer[Any]):
        phone = serializers.CharField(required=False, max_length=32)
        name = serializers.CharField(required=False, allow_blank=True, max_length=200)
        attributes = serializers.DictField(required=False, help_text=ATTRIBUTES_HELP)
        labels = serializers.ListField(
            child=serializers.CharField(max_length=50), required=False, max_length=50, help_text=LABELS_HELP
        )

    @extend_schema(
        operation_id="contacts_partial_update",
        summary="Change a contact",
        description="Only the fields sent change. Consent is changed through `consent/`, never here.",
        request=InputSerializer,
        responses={200: ContactObject, **error_responses(400, 401, 403, 404, 429)},
    )
    def patch(self, request: Request, id: uuid.UUID) -> Response:
        contact = selectors.contact_get(public_id=id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        contact = contacts.contact_update(contact=contact, **serializer.validated_data)
        return Response(representations.contact_data(contact))


class ContactDeleteApi(APIView):
    @extend_schema(
        operation_id="contacts_destroy",
        summary="Delete a contact",
        description="Deletes the contact with its threads, messages and consent ledger. Cannot be undone.",
        responses={204: None, **error_responses(401, 403, 404, 429)},
    )
    def delete(self, request: Request, id: uuid.UUID) -> Response:
        contact = selectors.contact_get(public_id=id)
        contacts.contact_delete(contact=contact, actor=request.user)
        return Response(status=204)


class ConsentListApi(APIView):
    """The contact's consent ledger, newest first."""

    pagination_class = CursorPagination

    @extend_schema(
        operation_id="contacts_consent_list",
        summary="List a contact's consent events",
        responses={200: ConsentEventObject(many=True), **error_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:
        contact = selectors.contact_get(public_id=id)
        events = selectors.consent_list_for_contact(contact=contact)
        return page_response(self, request, events, representations.consent_event_data)


class ConsentCreateApi(APIView):
    @extend_schema_serializer(component_name="ConsentCreateInput")
    class InputSerializer(serializers.Serializer[Any]):
        action = serializers.ChoiceField(choices=ConsentEvent.Action.values)
        purpose = serializers.ChoiceField(
            choices=ConsentEvent.Purpose.values, required=False, default=ConsentEvent.Purpose.ALL
        )
        source = serializers.CharField(
            max_length=100,
            required=False,
            default="api",
            help_text="Where it came from, e.g. `web_form`; default `api`.",
        )
        detail = serializers.CharField(
            required=False, allow_blank=True, default="", max_length=2000, help_text="What was shown or said."
        )

    @extend_schema(
        operation_id="contacts_consent_create",
        summary="Record an opt-in or opt-out",
        description=(
            "Appends to the ledger and updates the contact's flags: `opted_in`/`opted_out` follow the latest "
            "`all` event, `marketing_opted_out` the latest `marketing` one; an `all` opt-in also lifts a "
            "marketing opt-out."
        ),
        parameters=[idempotency.PARAMETER],
        request=InputSerializer,
        responses={201: ConsentEventObject, **error_responses(400, 401, 403, 404, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        contact = selectors.contact_get(public_id=id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = contacts.consent_record(contact=contact, **serializer.validated_data)
        return Response(representations.consent_event_data(event), status=201)
