from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey
from billing.selectors import plan_api_rate

if TYPE_CHECKING:
    from rest_framework.views import APIView


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per minute per API key, counted in Redis (the cache key carries the schema).

    The rate is read per request, not once per process, so it can depend on the company.
    """

    scope = "api_key"

    def get_rate(self) -> str:
        return f"{settings.API_RATE_PER_MINUTE or 300}/min"

    def requests_per_minute(self, request: Request) -> int:
        """The allowance of the request's company: its plan's rate per key (free 300,
        enterprise 3,000), capped by API_RATE_PER_MINUTE when that is set (0: no cap)."""
        rate = plan_api_rate(plan_id=getattr(getattr(request, "tenant", None), "plan_id", None)) or 300
        ceiling = settings.API_RATE_PER_MINUTE
        return min(rate, ceiling) if ceiling else rate

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.rate = f"{self.requests_per_minute(request)}/min"
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None  # no key, no throttle: an unauthenticated call never reaches a view
        return f"throttle:api_key:{request.auth.pk}"
