"""REST API of automation: `GET/PUT /api/v1/automation` and `GET/PUT /api/v1/business-hours`
(documented in docs/api.md). PUT replaces the whole object, as the contract's PUTs do;
errors are 400 `invalid` with dotted field paths in `details`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from automation import selectors, services
from config.api import error_responses

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
AGENT_UNKNOWN = gettext_lazy("No active agent of this company has this id.")
PERIOD_HELP = "At most one such message per customer per this many hours (1-8760)."
CLOSES_HELP = "`HH:MM`. At or before `opens`: the span ends the next day (`00:00`-`00:00` is the whole day)."


# --- output ------------------------------------------------------------------------------


def _reply_data(enabled: bool, text: str, period: int) -> dict[str, Any]:
    return {"enabled": enabled, "text": text, "period_hours": period}


def automation_data() -> dict[str, Any]:
    config = selectors.automation_settings_get()
    agents = [
        {
            "id": str(agent.public_id),
            "name": agent.get_full_name(),
            "opted_in": selectors.agent_automation_of(agent).auto_assign,
            "available": selectors.agent_automation_of(agent).available,
            "max_open_threads": selectors.agent_automation_of(agent).max_open_threads,
            "open_threads": agent.open_threads,
        }
        for agent in selectors.agent_list_with_load()
    ]
    return {
        "greeting": _reply_data(config.greeting_enabled, config.greeting_text, config.greeting_cooldown_hours),
        "away": _reply_data(config.away_enabled, config.away_text, config.away_cooldown_hours),
        "auto_assign": {"enabled": config.auto_assign_enabled, "agents": agents},
        "auto_resolve": {"idle_hours": config.auto_resolve_idle_hours},
        "updated_at": config.updated_at,
    }


def business_hours_data(*, now: Any = None) -> dict[str, Any]:
    return {
        "time_zone": selectors.automation_settings_get().time_zone,
        "weekly": [
            {"weekday": WEEKDAYS[i.weekday], "opens": f"{i.opens:%H:%M}", "closes": f"{i.closes:%H:%M}"}
            for i in selectors.opening_interval_list()
        ],
        "holidays": [{"date": h.date, "name": h.name} for h in selectors.holiday_list()],
        "open_now": selectors.is_open(at=now or timezone.now()),
    }


@extend_schema_serializer(component_name="AutoReplySettings")
class AutoReplySerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField()
    text = serializers.CharField(allow_blank=True, max_length=4096, help_text="Required while `enabled`.")
    period_hours = serializers.IntegerField(min_value=1, max_value=services.COOLDOWN_MAX_HOURS, help_text=PERIOD_HELP)


@extend_schema_serializer(component_name="AutomationAgent")
class AgentSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    name = serializers.CharField(read_only=True)
    opted_in = serializers.BooleanField(required=False, help_text="Takes automatic assignments (set by a manager).")
    available = serializers.BooleanField(required=False, help_text="The agent's own switch: away agents get none.")
    max_open_threads = serializers.IntegerField(
        required=False, min_value=1, max_value=services.AGENT_CAP_MAX, help_text="Open and pending threads at most."
    )
    open_threads = serializers.IntegerField(read_only=True, help_text="Open and pending threads assigned now.")


@extend_schema_serializer(component_name="AutoAssignSettings")
class AutoAssignSerializer(serializers.Serializer[Any]):
    enabled = serializers.BooleanField(help_text="New and reopened unassigned threads go round-robin to agents.")
    agents = AgentSerializer(
        many=True, required=False, help_text="Active agents. In a PUT: only the agents named change; omit to keep."
    )


@extend_schema_serializer(component_name="AutoResolveSettings")
class AutoResolveSerializer(serializers.Serializer[Any]):
    idle_hours = serializers.IntegerField(
        allow_null=True,
        min_value=1,
        max_value=services.IDLE_MAX_HOURS,
        help_text="Resolve open and pending threads with no message either way for this long; null: never.",
    )


@extend_schema_serializer(component_name="Automation")
class AutomationSerializer(serializers.Serializer[Any]):
    greeting = AutoReplySerializer(help_text="Sent on a customer's first message ever.")
    away = AutoReplySerializer(help_text="Sent on a message written outside business hours.")
    auto_assign = AutoAssignSerializer()
    auto_resolve = AutoResolveSerializer()
    updated_at = serializers.DateTimeField(read_only=True)


@extend_schema_serializer(component_name="OpeningSpan")
class SpanSerializer(serializers.Serializer[Any]):
    weekday = serializers.ChoiceField(choices=WEEKDAYS)
    opens = serializers.TimeField(format="%H:%M", input_formats=["%H:%M"], help_text="`HH:MM`, company time.")
    closes = serializers.TimeField(format="%H:%M", input_formats=["%H:%M"], help_text=CLOSES_HELP)


@extend_schema_serializer(component_name="Holiday")
class HolidaySerializer(serializers.Serializer[Any]):
    date = serializers.DateField(help_text="No spans start on this date (company time).")
    name = serializers.CharField(max_length=100, allow_blank=True, required=False, default="")


@extend_schema_serializer(component_name="BusinessHours")
class BusinessHoursSerializer(serializers.Serializer[Any]):
    time_zone = serializers.CharField(max_length=64, help_text="IANA name, e.g. `Europe/Berlin`.")
    weekly = SpanSerializer(many=True, max_length=7 * 24, help_text="No spans at all: always open (no away messages).")
    holidays = HolidaySerializer(many=True, max_length=1000)
    open_now = serializers.BooleanField(read_only=True)


def _invalid(exc: ValidationError, prefix: str = "") -> exceptions.ValidationError:
    return exceptions.ValidationError({f"{prefix}{field}": msgs for field, msgs in exc.message_dict.items()})


# --- views -------------------------------------------------------------------------------


class AutomationDetailApi(APIView):
    """The company's automation rules."""

    @extend_schema(
        operation_id="automation_retrieve",
        summary="Automation settings",
        responses={200: AutomationSerializer, **error_responses(401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        return Response(AutomationSerializer(automation_data()).data)


_FIELD_BY_SERVICE = {
    "greeting_text": "greeting.text",
    "greeting_cooldown_hours": "greeting.period_hours",
    "away_text": "away.text",
    "away_cooldown_hours": "away.period_hours",
    "auto_resolve_idle_hours": "auto_resolve.idle_hours",
}


class AutomationUpdateApi(APIView):
    @extend_schema(
        operation_id="automation_update",
        summary="Replace the automation settings",
        description="All four sections are required. `auto_assign.agents` may name some agents only; the "
        "others keep their settings. All or nothing: on 400 nothing changed.",
        request=AutomationSerializer,
        responses={200: AutomationSerializer, **error_responses(400, 401, 403, 429)},
    )
    def put(self, request: Request) -> Response:
        serializer = AutomationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        agents: list[tuple[User, dict[str, Any]]] = []
        unknown: dict[str, list[str]] = {}
        for index, entry in enumerate(data["auto_assign"].get("agents", [])):
            agent = User.objects.filter(public_id=entry["id"], is_active=True).first()
            if agent is None:
                unknown[f"auto_assign.agents.{index}.id"] = [AGENT_UNKNOWN]
            else:
                agents.append((agent, entry))
        if unknown:
            raise exceptions.ValidationError(unknown)
        try:
            with transaction.atomic():
                services.automation_settings_update(
                    greeting_enabled=data["greeting"]["enabled"],
                    greeting_text=data["greeting"]["text"],
                    greeting_cooldown_hours=data["greeting"]["period_hours"],
                    away_enabled=data["away"]["enabled"],
                    away_text=data["away"]["text"],
                    away_cooldown_hours=data["away"]["period_hours"],
                    auto_assign_enabled=data["auto_assign"]["enabled"],
                    auto_resolve_idle_hours=data["auto_resolve"]["idle_hours"],
                )
                for agent, entry in agents:
                    services.agent_automation_update(
                        user=agent,
                        auto_assign=entry.get("opted_in"),
                        available=entry.get("available"),
                        max_open_threads=entry.get("max_open_threads"),
                    )
        except ValidationError as exc:
            raise exceptions.ValidationError(
                {_FIELD_BY_SERVICE.get(field, field): msgs for field, msgs in exc.message_dict.items()}
            ) from exc
        return Response(AutomationSerializer(automation_data()).data)


class BusinessHoursDetailApi(APIView):
    """The company's business hours: time zone, weekly spans, holidays."""

    @extend_schema(
        operation_id="business_hours_retrieve",
        summary="Business hours",
        responses={200: BusinessHoursSerializer, **error_responses(401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        return Response(BusinessHoursSerializer(business_hours_data()).data)


class BusinessHoursUpdateApi(APIView):
    @extend_schema(
        operation_id="business_hours_update",
        summary="Replace the business hours",
        description="Replaces the time zone, every span and every holiday. Spans of the week may not overlap.",
        request=BusinessHoursSerializer,
        responses={200: BusinessHoursSerializer, **error_responses(400, 401, 403, 429)},
    )
    def put(self, request: Request) -> Response:
        serializer = BusinessHoursSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        intervals = [
            services.IntervalInput(WEEKDAYS.index(span["weekday"]), span["opens"], span["closes"])
            for span in data["weekly"]
        ]
        holidays = [services.HolidayInput(h["date"], h.get("name", "")) for h in data["holidays"]]
        try:
            services.business_hours_set(time_zone=data["time_zone"], intervals=intervals, holidays=holidays)
        except ValidationError as exc:
            raise exceptions.ValidationError(
                {field.replace("intervals.", "weekly."): msgs for field, msgs in exc.message_dict.items()}
            ) from exc
        return Response(BusinessHoursSerializer(business_hours_data()).data)
