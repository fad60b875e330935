from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class MeApi(APIView):
    def get(self, request: Request) -> Response:
        company = request.tenant  # type: ignore[attr-defined]
        key = request.auth
        return Response(
            {
                "company": {"slug": company.slug, "name": company.name, "plan": company.plan.code, "verified": False},
                "key": {"name": key.name, "prefix": key.prefix},
            }
        )
