"""`{% availability_toggle %}`: the agent's own available/away switch in the page header."""

from __future__ import annotations

import logging
from typing import Any

from django import template
from django.db import DatabaseError

from automation.models import AgentAutomation

register = template.Library()
logger = logging.getLogger(__name__)


@register.inclusion_tag("automation/_availability.html", takes_context=True)
def availability_toggle(context: dict[str, Any]) -> dict[str, Any]:
    """Shown to a logged-in agent of a company; an error page (500 included) that cannot
    read the row simply leaves the switch out."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or user is None or not user.is_authenticated:
        return {"show": False}
    try:
        row = AgentAutomation.objects.filter(user=user).only("available").first()
    except DatabaseError:
        logger.warning("availability switch left out: the row could not be read")
        return {"show": False}
    return {
        "show": True,
        "available": row.available if row else True,
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
    }
