from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def company(request: HttpRequest) -> dict[str, Any]:
    return {"company": getattr(request, "company", None)}
