"""Threads, their messages and internal notes (design/API.md "Threads")."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from config.api import CursorPagination, error_responses
from inbox import representations, selectors
from inbox.api import idempotency
from inbox.api.common import page_response
from inbox.api.objects import MessageObject, NoteObject, ThreadObject
from inbox.models import Thread
from inbox.services import threads

ASSIGNEE_ME_WITH_KEY = (
    "`me` means the agent making the request, and an API key has no agent behind it. Use `none` or an agent's id."
)
AGENT_UNKNOWN = _("No active agent of this company has this id.")
ASSIGNEE_HELP = "`none` (unassigned) or an agent's id. `me` is refused with an API key (400 `invalid`)."


def _agent_or_invalid(field: str, public_id: Any) -> User:
    try:
        return selectors.agent_get(public_id=public_id)
    except Http404:
        raise exceptions.ValidationError({field: [AGENT_UNKNOWN]}) from None


class ThreadListApi(APIView):
    """Threads, latest activity first (the last message's time, else the creation time)."""

    pagination_class = CursorPagination
    ordering = ("-activity_at", "-id")

    class FilterSerializer(serializers.Serializer[Any]):
        status = serializers.ChoiceField(choices=Thread.Status.values, required=False)
        assignee = serializers.CharField(required=False, max_length=64, help_text=ASSIGNEE_HELP)
        label = serializers.CharField(required=False, allow_blank=True, max_length=50, help_text="A label name.")
        search = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=100,
            help_text="Part of the contact's name or phone number, or of a message's text.",
        )

        def validate_assignee(self, value: str) -> str:
            if value.lower() == "me":
                raise serializers.ValidationError(ASSIGNEE_ME_WITH_KEY)
            return value

    @extend_schema(
        operation_id="threads_list",
        summary="List threads",
        parameters=[FilterSerializer],
        responses={200: ThreadObject(many=True), **error_responses(400, 401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        assignee_param = data.get("assignee", "")
        unassigned = assignee_param.lower() == "none"
        assignee = _agent_or_invalid("assignee", assignee_param) if assignee_param and not unassigned else None
        rows = selectors.thread_row_list_api(
            status=data.get("status"),
            assignee=assignee,
            unassigned=unassigned,
            label=data.get("label") or None,
            search=data.get("search") or None,
        )
        return page_response(self, request, rows, representations.thread_row_data)


class ThreadDetailApi(APIView):
    @extend_schema(
        operation_id="threads_retrieve",
        summary="Get a thread",
        responses={200: ThreadObject, **error_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:
        thread = selectors.thread_get(public_id=id)
        return Response(representations.thread_data(thread))


class ThreadUpdateApi(APIView):
    @extend_schema_serializer(component_name="ThreadUpdateInput")
    class InputSerializer(serializers.Serializer[Any]):
        status = serializers.ChoiceField(choices=Thread.Status.values, required=False)
        labels = serializers.ListField(
            child=serializers.CharField(max_length=50),
            required=False,
            max_length=50,
            help_text="Label names; replaces the whole set. Labels that do not exist yet are made.",
        )
        snoozed_until = serializers.DateTimeField(
            required=False,
            allow_null=True,
            help_text=(
                "Required with status `snoozed`, in the future. Alone it snoozes the thread until then; "
                "with another status it must be null or absent."
            ),
        )

    @extend_schema(
        operation_id="threads_partial_update",
        summary="Change a thread's status, snooze time or labels",
        description="All or nothing: when one field is refused, nothing changes.",
        request=InputSerializer,
        responses={200: ThreadObject, **error_responses(400, 401, 403, 404, 429)},
    )
    def patch(self, request: Request, id: uuid.UUID) -> Response:
        thread = selectors.thread_get(public_id=id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        thread = threads.thread_update(thread=thread, **serializer.validated_data)
        return Response(representations.thread_data(thread))


class ThreadAssignApi(APIView):
    @extend_schema_serializer(component_name="ThreadAssignInput")
    class InputSerializer(serializers.Serializer[Any]):
        agent = serializers.UUIDField(allow_null=True, help_text="An active agent's id, or null to unassign.")

    @extend_schema(
        operation_id="threads_assign",
        summary="Assign a thread to an agent, or unassign it",
        parameters=[idempotency.PARAMETER],
        request=InputSerializer,
        responses={200: ThreadObject, **error_responses(400, 401, 403, 404, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        thread = selectors.thread_get(public_id=id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        agent_id = serializer.validated_data["agent"]
        agent = _agent_or_invalid("agent", agent_id) if agent_id is not None else None
        thread = threads.thread_assign(thread=thread, assignee=agent)
        return Response(representations.thread_data(thread))


class ThreadMessageListApi(APIView):
    """The thread's messages, newest first."""

    pagination_class = CursorPagination

    @extend_schema(
        operation_id="threads_messages_list",
        summary="List a thread's messages",
        responses={200: MessageObject(many=True), **error_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:
        rows = selectors.message_row_list_for_thread(thread_id=selectors.thread_id_get(public_id=id))
        return page_response(self, request, rows, representations.message_row_data)


class NoteListApi(APIView):
    """The thread's internal notes, newest first."""

    pagination_class = CursorPagination

    @extend_schema(
        operation_id="threads_notes_list",
        summary="List a thread's internal notes",
        responses={200: NoteObject(many=True), **error_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, id: uuid.UUID) -> Response:
        thread = selectors.thread_get(public_id=id)
        notes = selectors.note_list_for_thread_api(thread=thread)
        return page_response(self, request, notes, representations.note_data)


class NoteCreateApi(APIView):
    @extend_schema_serializer(component_name="NoteCreateInput")
    class InputSerializer(serializers.Serializer[Any]):
        body = serializers.CharField(max_length=10000, help_text="`@name` or `@e-mail` mentions an agent.")

    @extend_schema(
        operation_id="threads_notes_create",
        summary="Add an internal note",
        description="The customer never sees notes. A note made with an API key has no author (`author: null`).",
        parameters=[idempotency.PARAMETER],
        request=InputSerializer,
        responses={201: NoteObject, **error_responses(400, 401, 403, 404, 422, 429)},
    )
    @idempotency.idempotent
    def post(self, request: Request, id: uuid.UUID) -> Response:
        thread = selectors.thread_get(public_id=id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # An API key acts for the company, not for an agent: the note has no author.
        note = threads.note_create(thread=thread, author=None, body=serializer.validated_data["body"])
        return Response(representations.note_data(note), status=201)
