from __future__ import annotations

from django.db import models


class Plan(models.Model):
    """A price plan. Limits are rows operators edit, never code branches.

    Only what the foundation needs lives here yet; metering, rate cards and invoices
    arrive with the billing work.
    """

    class Code(models.TextChoices):
        FREE = "free", "Free"
        ENTERPRISE = "enterprise", "Enterprise"

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    # None means unlimited.
    max_agents = models.PositiveIntegerField(null=True, blank=True)
    max_phone_numbers = models.PositiveIntegerField(null=True, blank=True)
    api_requests_per_minute = models.PositiveIntegerField(default=300)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name
