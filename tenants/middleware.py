"""Host routing: the public host, a company's host, or 404.

The public host (`BASE_DOMAIN`) is recognised without a query; any other host is looked
up in `Domain`. A host that is neither answers 404 rather than falling back to public, so
a typo never shows another site's pages.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name

from tenants.models import Company


class CompanyHostMiddleware(TenantMainMiddleware):
    def process_request(self, request: HttpRequest) -> HttpResponse | None:
        hostname = self.hostname_from_request(request).lower()
        if hostname == settings.BASE_DOMAIN:
            if not _already_public():
                connection.set_schema_to_public()
            request.tenant = connection.tenant  # type: ignore[attr-defined]
            request.company = None  # type: ignore[attr-defined]
            self.setup_url_routing(request, force_public=True)
            return None
        response = super().process_request(request)
        tenant = request.tenant  # type: ignore[attr-defined]
        request.company = tenant if isinstance(tenant, Company) else None  # type: ignore[attr-defined]
        if isinstance(tenant, Company) and tenant.status not in (Company.Status.ACTIVE, Company.Status.SUSPENDED):
            raise Http404("No company at this address.")
        return response

    def no_tenant_found(self, request: HttpRequest, hostname: str) -> HttpResponse:
        raise Http404("No company at this address.")


def _already_public() -> bool:
    """True when the connection is in the public schema and its session's search_path says so.

    Switching again would make the next query re-issue `SET search_path` (one more round
    trip per request on the public host, e.g. every provider webhook POST). The backend
    forgets the path it set on close and on rollback, so a stale one is never trusted.
    """
    public = get_public_schema_name()
    return connection.schema_name == public and connection.search_path_set_schemas == [public]  # type: ignore[attr-defined]


class SuspendedCompanyMiddleware:
    """A suspended company's pages and API answer 403 with a clear message (health stays up)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        company = getattr(request, "company", None)
        if company is not None and company.is_suspended and request.path != "/healthz":
            message = gettext("This company's account is suspended. Please contact support.")
            if request.path.startswith("/api/"):
                return JsonResponse({"error": {"code": "company_suspended", "message": message}}, status=403)
            return render(request, "tenants/suspended.html", {"message": message}, status=403)
        return self.get_response(request)
