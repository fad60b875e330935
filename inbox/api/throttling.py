from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey

if TYPE_CHECKING:
    from rest_framework.views import APIView


class ApiKeyRateThrottle(SimpleRateThrottle):
    """Requests per minute per API key, counted in Redis (the cache key carries the schema).

    The rate is read per request, not once per process, so it can depend on the company.
    """

    scope = "api_key"

    def get_rate(self) -> str:
        return f"{settings.API_RATE_PER_MINUTE}/min"

    def requests_per_minute(self, request: Request) -> int:
        """The allowance of the request's company.

        From settings for now; once billing owns the plans, this becomes
        `request.tenant.plan.api_requests_per_minute` (free 300, enterprise 3,000).
        """
        return settings.API_RATE_PER_MINUTE

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.rate = f"{self.requests_per_minute(request)}/min"
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return None  # no key, no throttle: an unauthenticated call never reaches a view
        return f"throttle:api_key:{request.auth.pk}"
