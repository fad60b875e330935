from __future__ import annotations


class PlanNotFoundError(LookupError):
    pass
