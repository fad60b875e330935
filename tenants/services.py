"""Company provisioning: the one door used by signup, `create_company` and the demo seed.

Why a pool of ready schemas: building a tenant schema through Django's migrations takes
≈ 0.5 s and grows with every migration we add, and django-tenants' clone is slower still
(performance-limits.md §5b). So schemas are migrated ahead of time in the background
(`tenant_pool_fill`, run by Celery beat and after each claim) and a signup only claims one:
`ALTER SCHEMA … RENAME`, a few rows, one transaction, ≈ 10-30 ms. PostgreSQL's DDL is
transactional, so a failure anywhere in the claim leaves neither a renamed schema nor rows.
When the pool is empty the same path builds one schema synchronously first, so a burst of
signups is slower but never fails for lack of pool.

Pooled schemas are rows of `Company` (status `pooled`) so that `migrate_schemas` keeps
them on the latest migration like every real company.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy
from django_tenants.utils import schema_context

from accounts.models import User
from billing.selectors import plan_get
from tenants import tasks
from tenants.models import Company, Domain, OperatorAction

logger = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")
RESERVED_SLUGS = frozenset(
    {
        "admin", "api", "app", "assets", "auth", "billing", "blog", "cdn", "dashboard", "dev",
        "docs", "help", "info", "internal", "kontakt", "login", "mail", "media", "my", "ns",
        "operator", "pool", "public", "root", "signup", "smtp", "static", "status", "support",
        "system", "test", "verify", "webhooks", "www",
    }
)  # fmt: skip
SLUG_INVALID = (
    "Use 3 to 40 characters: lowercase letters, digits and hyphens, starting with a letter "
    "and not ending with a hyphen."
)
SLUG_RESERVED = gettext_lazy("This subdomain is reserved. Please choose another.")
SLUG_TAKEN = gettext_lazy("This subdomain is already taken.")
# A pool entry stuck in `building` this long is from a crashed builder and is removed.
STALE_BUILD_AFTER = timedelta(minutes=15)
POOL_LOCK_ID = 0x6B6F6E74  # "kont": pg advisory lock for the pool filler


def company_slug_validate(*, slug: str) -> None:
    """Raises ValidationError (field `slug`) unless the slug is well-formed, allowed and free."""
    if not SLUG_RE.match(slug) or "--" in slug:
        raise ValidationError({"slug": [SLUG_INVALID]})
    if slug in RESERVED_SLUGS or slug.startswith(("pg-", "pool-")):
        raise ValidationError({"slug": [SLUG_RESERVED]})
    if Company.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": [SLUG_TAKEN]})


def company_host(company: Company) -> str:
    """The company's host name, `<slug>.<BASE_DOMAIN>`."""
    return f"{company.slug}.{settings.BASE_DOMAIN}"


def company_url(company: Company, path: str = "/") -> str:
    """An absolute URL on the company's host, for links in e-mails and printed output."""
    port = f":{settings.PUBLIC_PORT}" if settings.PUBLIC_PORT else ""
    return f"{settings.PUBLIC_SCHEME}://{company_host(company)}{port}{path}"


def _schema_name_for(slug: str) -> str:
    # Slugs never contain "_", so the mapping is one-to-one; underscores keep the
    # schema name a plain identifier.
    return slug.replace("-", "_")


@dataclass(frozen=True)
class PoolFillResult:
    built: int
    removed_stale: int
    ready: int


def tenant_pool_build() -> Company:
    """Builds one pooled schema synchronously (CREATE SCHEMA + tenant migrations).

    Commits on its own; on failure django-tenants drops the schema and deletes the row.
    Must not be called inside a transaction.
    """
    connection.set_schema_to_public()
    company = Company(schema_name=f"pool_{uuid.uuid4().hex[:20]}", status=Company.Status.BUILDING)
    company.save(verbosity=0)
    Company.objects.filter(pk=company.pk).update(status=Company.Status.POOLED)
    company.status = Company.Status.POOLED
    return company


def tenant_pool_fill(*, size: int | None = None) -> PoolFillResult:
    """Tops the pool of ready schemas up to `size` (default TENANT_POOL_SIZE).

    Removes entries left in `building` by a crashed builder first. Only one filler runs
    at a time (PostgreSQL advisory lock); a second caller returns at once.
    """
    target = settings.TENANT_POOL_SIZE if size is None else size
    connection.set_schema_to_public()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [POOL_LOCK_ID])
        (locked,) = cursor.fetchone()
    if not locked:
        return PoolFillResult(built=0, removed_stale=0, ready=_pool_ready_count())
    try:
        removed = 0
        stale = Company.objects.filter(
            status=Company.Status.BUILDING, created_at__lt=timezone.now() - STALE_BUILD_AFTER
        )
        for company in stale:
            company.delete(force_drop=True)
            removed += 1
        built = 0
        while _pool_ready_count() < target:
            tenant_pool_build()
            built += 1
        return PoolFillResult(built=built, removed_stale=removed, ready=_pool_ready_count())
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [POOL_LOCK_ID])


def _pool_ready_count() -> int:
    return Company.objects.filter(status=Company.Status.POOLED).count()


def company_create(
    *,
    slug: str,
    name: str,
    plan_code: str,
    owner_email: str,
    owner_password: str,
    owner_name: str = "",
) -> Company:
    """Provisions a company with its host and its owner as first agent; all or nothing.

    Raises ValidationError (keyed by field) for a bad slug/name/e-mail, PlanNotFoundError
    for an unknown plan. Must not be called inside a transaction: it may build a schema.
    """
    slug = slug.strip().lower()
    name = name.strip()
    owner_email = User.objects.normalize_email(owner_email.strip()).lower()
    company_slug_validate(slug=slug)
    if not name:
        raise ValidationError({"name": ["A company name is required."]})
    if not owner_email or "@" not in owner_email:
        raise ValidationError({"owner_email": ["Enter a valid e-mail address."]})
    plan = plan_get(code=plan_code)
    # Argon2 is deliberately slow: hash before taking any lock.
    password_hash = make_password(owner_password)

    connection.set_schema_to_public()
    for _ in range(3):
        try:
            company = _pool_claim(
                slug=slug,
                name=name,
                plan_id=plan.pk,
                owner_email=owner_email,
                owner_name=owner_name.strip(),
                password_hash=password_hash,
            )
        except IntegrityError:
            # Lost a race for the same slug: everything rolled back; say so as a form error.
            company_slug_validate(slug=slug)
            raise
        if company is not None:
            logger.info("company provisioned slug=%s schema=%s", company.slug, company.schema_name)
            return company
        tenant_pool_build()
    raise RuntimeError("Could not claim a ready schema after building one; see the logs.")


@transaction.atomic
def _pool_claim(
    *, slug: str, name: str, plan_id: int, owner_email: str, owner_name: str, password_hash: str
) -> Company | None:
    """Turns one ready pooled schema into the company, or returns None when the pool is empty."""
    pooled = (
        Company.objects.select_for_update(skip_locked=True).filter(status=Company.Status.POOLED).order_by("id").first()
    )
    if pooled is None:
        return None
    schema_name = _schema_name_for(slug)
    with connection.cursor() as cursor:
        cursor.execute(
            f'ALTER SCHEMA "{pooled.schema_name}" RENAME TO "{schema_name}"'  # both names validated
        )
    now = timezone.now()
    pooled.schema_name = schema_name
    pooled.slug = slug
    pooled.name = name
    pooled.plan_id = plan_id
    pooled.status = Company.Status.ACTIVE
    pooled.provisioned_at = now
    # A concurrent signup for the same slug loses on the unique constraint here and
    # rolls back entirely, pooled schema included.
    pooled.save(update_fields=["schema_name", "slug", "name", "plan", "status", "provisioned_at", "updated_at"])
    Domain.objects.create(domain=f"{slug}.{settings.BASE_DOMAIN}", tenant=pooled, is_primary=True)
    # schema_context inside the transaction is safe here: on rollback django-tenants forgets
    # its cached search_path and sets it again on the next cursor.
    with schema_context(schema_name):
        User.objects.create(
            email=owner_email,
            name=owner_name,
            role=User.Role.OWNER,
            password=password_hash,
        )
    tasks.tenant_pool_fill_task.delay_on_commit()
    return pooled


def audit_record(
    *,
    actor: User | None,
    action: str,
    company: Company | None = None,
    target: str = "",
    before: dict | None = None,
    after: dict | None = None,
    actor_label: str = "",
) -> OperatorAction:
    """Appends one row to the operator audit log: who did what to which company, before/after.

    `actor` is a public-schema operator, or None for a command or the system; then
    `actor_label` names it ("cli:<os user>"), defaulting to "system". Call it inside the
    transaction of the change it records, so a change never lands without its row.
    """
    label = actor_label or (actor.email if actor is not None else "system")
    return OperatorAction.objects.create(
        actor=actor,
        actor_label=label[:254],
        action=action,
        company=company,
        target=target[:300],
        before=before,
        after=after,
    )
