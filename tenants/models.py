from __future__ import annotations

from django.db import models
from django_tenants.models import DomainMixin, TenantMixin


class Company(TenantMixin):
    """A customer business: the tenant. Its data lives in its own PostgreSQL schema.

    Rows in state `building`/`pooled` are schemas migrated ahead of time, waiting to be
    claimed by a signup (see tenants/services.py). They have no slug, name or plan yet,
    and they stay in this table so that `migrate_schemas` keeps them current.
    """

    class Status(models.TextChoices):
        BUILDING = "building", "Building (pool)"
        POOLED = "pooled", "Ready (pool)"
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    slug = models.SlugField(max_length=40, unique=True, null=True, blank=True)
    name = models.CharField(max_length=200, blank=True)
    plan = models.ForeignKey("billing.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="companies")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING, db_index=True)
    suspended_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    provisioned_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    auto_create_schema = True
    auto_drop_schema = True

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.slug or self.schema_name

    @property
    def is_suspended(self) -> bool:
        return self.status == self.Status.SUSPENDED


class Domain(DomainMixin):
    """A host name routed to a company (`<slug>.<BASE_DOMAIN>`)."""

    def __str__(self) -> str:
        return self.domain


class PhoneNumberRoute(models.Model):
    """Routes the provider's phone_number_id to the company that connected it (public schema).

    `waba_id` (the WhatsApp Business Account the number belongs to) routes the webhooks that
    name no number, such as template status changes. It is given at connection or learnt
    from the `entry.id` of the number's own signed webhooks.
    """

    phone_number_id = models.CharField(max_length=64, unique=True)
    waba_id = models.CharField(max_length=64, blank=True, db_index=True)
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="phone_number_routes")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.phone_number_id} → {self.company}"


class ProviderEvent(models.Model):
    """An inbound provider webhook POST, stored raw before anything else happens.

    Nothing the provider tells us is lost: the body is kept as received (the signature
    covers these bytes), then processed by a Celery task that routes each item to its
    company. `processed_at` stays empty until that succeeded.
    """

    body = models.BinaryField()
    signature = models.CharField(max_length=100)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    item_count = models.PositiveIntegerField(default=0)
    unrouted_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["received_at"], name="providerevent_unprocessed", condition=models.Q(processed_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"provider event {self.pk}"
