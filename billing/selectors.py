from __future__ import annotations

from billing.errors import PlanNotFoundError
from billing.models import Plan


def plan_get(*, code: str) -> Plan:
    """The plan with this code; PlanNotFoundError when there is none."""
    try:
        return Plan.objects.get(code=code)
    except Plan.DoesNotExist as exc:
        raise PlanNotFoundError(f"Unknown plan {code!r}.") from exc
