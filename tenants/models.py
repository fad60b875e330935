from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_tenants.models import DomainMixin, TenantMixin


class Company(TenantMixin):
    """A customer business: the tenant. Its data lives in its own PostgreSQL schema.

    Rows in state `building`/`pooled` are schemas migrated ahead of time, waiting to be
    claimed by a signup (see tenants/services.py). They have no slug, name or plan yet,
    and they stay in this table so that `migrate_schemas` keeps them current.
    """

    class Status(models.TextChoices):
        BUILDING = "building", _("Building (pool)")
        POOLED = "pooled", _("Ready (pool)")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    slug = models.SlugField(max_length=40, unique=True, null=True, blank=True)
    name = models.CharField(max_length=200, blank=True)
    plan = models.ForeignKey("billing.Plan", on_delete=models.PROTECT, null=True, blank=True, related_name="companies")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING, db_index=True)
    suspended_reason = models.TextField(blank=True)
    # Ask customers for a 1-5 rating when an agent resolves their thread (inbox/services/csat.py).
    csat_enabled = models.BooleanField(default=False)
    # GDPR retention (inbox/services/privacy.py): message bodies and media of resolved threads
    # whose last message is older than this many days are purged nightly; NULL = keep.
    retention_days = models.PositiveIntegerField(null=True, blank=True)
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
    # The number customers see, E.164: the public /verify/ page looks numbers up by it.
    display_number = models.CharField(max_length=32, blank=True, db_index=True)
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


class BusinessProfile(models.Model):
    """A company's business identity and where its verification stands (public schema).

    Customers are told a number belongs to a company only from the `verified_*` fields,
    which are copied from the submitted details at the moment an operator verifies them.
    Any later edit of the details sends the profile back to `pending` and withdraws the
    badge until an operator looks again (docs/identity.md says why).
    Transitions live in tenants/verification.py, never here.
    """

    class State(models.TextChoices):
        UNVERIFIED = "unverified", _("Unverified")
        PENDING = "pending", _("Pending review")
        VERIFIED = "verified", _("Verified")
        REJECTED = "rejected", _("Rejected")

    company = models.OneToOneField(Company, on_delete=models.CASCADE, related_name="business_profile")
    legal_name = models.CharField(max_length=200, blank=True)
    display_name = models.CharField(max_length=100, blank=True)
    website = models.URLField(max_length=200, blank=True)
    registration_number = models.CharField(max_length=64, blank=True)
    address = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.UNVERIFIED, db_index=True)
    rejection_reason = models.TextField(blank=True)
    # What customers are shown; set when verified, cleared when the badge is withdrawn.
    verified_display_name = models.CharField(max_length=100, blank=True)
    verified_legal_name = models.CharField(max_length=200, blank=True)
    verified_website = models.URLField(max_length=200, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False
    )
    decided_by_label = models.CharField(max_length=254, blank=True)
    # Outbound templates carry a signed "is this really them?" link (docs/identity.md).
    verify_links_enabled = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.company} ({self.state})"

    @property
    def is_verified(self) -> bool:
        return self.state == self.State.VERIFIED


class OperatorActionQuerySet(models.QuerySet["OperatorAction"]):
    """The audit log is append-only: bulk updates and deletes are refused too."""

    def update(self, **kwargs: object) -> int:
        raise PermissionError("The operator audit log is append-only.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("The operator audit log is append-only.")


class OperatorAction(models.Model):
    """One operator (or CLI/system) action: who, what, on which company, before and after.

    Append-only: rows are written by `tenants.services.audit_record` and never changed.
    `actor` is a public-schema operator; None for commands and the system, which are named
    in `actor_label` ("cli:<os user>", "system"). The label also keeps the operator's
    e-mail should the user row ever go.
    """

    actor = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_constraint=False
    )
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=64, db_index=True)
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="operator_actions"
    )
    target = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    objects = OperatorActionQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.actor_label} {self.action} {self.target}".strip()

    def save(self, *args: object, **kwargs: object) -> None:
        if not self._state.adding:
            raise PermissionError("The operator audit log is append-only.")
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise PermissionError("The operator audit log is append-only.")
