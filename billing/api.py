"""`GET /api/v1/usage` (design/API.md "Usage"): this period's usage by category and the limits."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from billing import selectors
from billing.models import Category
from config.api import error_responses

_CATEGORY = inline_serializer(
    "UsageCategory",
    {
        "count": serializers.IntegerField(help_text="Delivered messages booked this period."),
        "charged": serializers.IntegerField(help_text="Of those, charged ones."),
        "amount": serializers.CharField(help_text="Decimal string, two places, in `currency`."),
    },
)
_LIMIT = inline_serializer(
    "UsageLimit",
    {
        "used": serializers.IntegerField(),
        "allowed": serializers.IntegerField(allow_null=True, help_text="null: unlimited; 0: not in the plan."),
    },
)


class UsageApi(APIView):
    """This billing period's usage (calendar month, UTC) and the plan's limits in use."""

    @extend_schema_serializer(component_name="Usage")
    class OutputSerializer(serializers.Serializer[Any]):
        period = inline_serializer("UsagePeriod", {"start": serializers.DateField(), "end": serializers.DateField()})
        plan = serializers.CharField(help_text="The plan's code, e.g. `free` or `enterprise`.")
        currency = serializers.CharField()
        total = serializers.CharField(help_text="Charged so far this period (usage only, without the base fee).")
        by_category = serializers.DictField(child=_CATEGORY, help_text=f"Keys: {', '.join(Category.values)}.")
        limits = serializers.DictField(
            child=_LIMIT,
            help_text="agents, phone_numbers, business_initiated_per_day (today, UTC), outgoing_webhooks.",
        )

    @extend_schema(
        operation_id="usage_retrieve",
        summary="This period's usage and limits",
        responses={200: OutputSerializer, **error_responses(401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        company = request.tenant  # type: ignore[attr-defined]  # set by CompanyHostMiddleware
        plan = selectors.company_plan(company=company)
        usage = selectors.company_usage_period(company=company)
        data = {
            "period": {"start": usage["period"]["start"].isoformat(), "end": usage["period"]["end"].isoformat()},
            "plan": plan.code,
            "currency": usage["currency"],
            "total": str(usage["total"]),
            "by_category": {
                category: {"count": row["count"], "charged": row["charged"], "amount": str(row["amount"])}
                for category, row in usage["by_category"].items()
            },
            "limits": selectors.company_limits(company=company, plan=plan),
        }
        return Response(data)
