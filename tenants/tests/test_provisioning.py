from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django_tenants.utils import schema_context, schema_exists

from accounts.models import User
from billing.errors import PlanNotFoundError
from tenants import services
from tenants.models import Company, Domain

PASSWORD = "a-long-enough-password-42"


def _create(slug: str = "newco", **overrides: str) -> Company:
    args = {
        "slug": slug,
        "name": "New Co",
        "plan_code": "free",
        "owner_email": "Owner@NewCo.test",
        "owner_name": "Olga Owner",
        "owner_password": PASSWORD,
    }
    args.update(overrides)
    return services.company_create(**args)  # type: ignore[arg-type]


def test_creates_schema_host_plan_and_owner(db: None) -> None:
    # when
    company = _create()
    # then
    assert company.status == Company.Status.ACTIVE
    assert company.schema_name == "newco"
    assert company.plan is not None
    assert company.plan.code == "free"
    assert schema_exists("newco")
    assert Domain.objects.get(tenant=company).domain == "newco.localhost"
    with schema_context("newco"):
        owner = User.objects.get()
    assert owner.email == "owner@newco.test"
    assert owner.role == User.Role.OWNER
    assert owner.password.startswith("argon2")
    assert owner.check_password(PASSWORD)


def test_hyphenated_slug_gets_an_underscored_schema(db: None) -> None:
    # when
    company = _create("pizza-roma")
    # then
    assert company.schema_name == "pizza_roma"
    assert services.company_host(company) == "pizza-roma.localhost"


@pytest.mark.parametrize("slug", ["ab", "1pizza", "Pizza!", "pizza-", "pi--zza", "a" * 41, "piz_za", ""])
def test_rejects_malformed_slug(db: None, slug: str) -> None:
    # when / then
    with pytest.raises(ValidationError) as excinfo:
        _create(slug)
    assert excinfo.value.message_dict["slug"] == [services.SLUG_INVALID]


@pytest.mark.parametrize("slug", ["www", "admin", "api", "static", "public", "pg-data", "pool-one"])
def test_rejects_reserved_slug(db: None, slug: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        _create(slug)
    assert excinfo.value.message_dict["slug"] == [services.SLUG_RESERVED]


def test_rejects_taken_slug(company_a: Company) -> None:
    with pytest.raises(ValidationError) as excinfo:
        _create(company_a.slug)
    assert excinfo.value.message_dict["slug"] == [services.SLUG_TAKEN]


def test_rejects_unknown_plan_before_touching_anything(db: None) -> None:
    with pytest.raises(PlanNotFoundError):
        _create(plan_code="platinum")
    assert not Company.objects.filter(slug="newco").exists()
    assert not Company.objects.filter(status=Company.Status.POOLED).exists()


def test_claims_a_pooled_schema_when_one_is_ready(db: None) -> None:
    # given
    services.tenant_pool_fill(size=2)
    pooled_ids = set(Company.objects.filter(status=Company.Status.POOLED).values_list("id", flat=True))
    # when
    company = _create()
    # then
    assert company.pk in pooled_ids
    assert Company.objects.filter(status=Company.Status.POOLED).count() == 1


def test_builds_a_schema_when_the_pool_is_empty(db: None) -> None:
    # given
    assert not Company.objects.filter(status=Company.Status.POOLED).exists()
    # when
    company = _create()
    # then
    assert company.status == Company.Status.ACTIVE
    assert not Company.objects.filter(status=Company.Status.POOLED).exists()


def test_failure_midway_leaves_no_schema_rows_or_owner(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # given: a ready schema, and the owner insert (the last step) fails
    pooled = services.tenant_pool_build()

    def broken_create(**kwargs: object) -> User:
        raise RuntimeError("disk full")

    monkeypatch.setattr(User.objects, "create", broken_create)
    # when
    with pytest.raises(RuntimeError, match="disk full"):
        _create()
    # then: nothing of the company exists, the pooled schema is untouched and still claimable
    assert not Company.objects.filter(slug="newco").exists()
    assert not Domain.objects.filter(domain="newco.localhost").exists()
    assert not schema_exists("newco")
    pooled.refresh_from_db()
    assert pooled.status == Company.Status.POOLED
    assert schema_exists(pooled.schema_name)
    assert connection.schema_name == "public"


def test_pool_fill_tops_up_and_removes_stale_builds(db: None) -> None:
    # given: an entry a crashed builder left in `building` long ago
    stale = services.tenant_pool_build()
    with connection.cursor() as cursor:
        # The test's one transaction holds the build's deferred FK checks; a real
        # builder has committed long ago. Settle them so the schema can be dropped.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    Company.objects.filter(pk=stale.pk).update(
        status=Company.Status.BUILDING, created_at=stale.created_at - services.STALE_BUILD_AFTER * 2
    )
    # when
    result = services.tenant_pool_fill(size=2)
    # then
    assert result == services.PoolFillResult(built=2, removed_stale=1, ready=2)
    assert not Company.objects.filter(pk=stale.pk).exists()
    assert not schema_exists(stale.schema_name)


def test_pool_fill_task_uses_configured_size(db: None, settings: pytest.FixtureRequest) -> None:
    # given
    from tenants import tasks

    settings.TENANT_POOL_SIZE = 1  # type: ignore[attr-defined]
    # when
    tasks.tenant_pool_fill_task.run()
    # then
    assert Company.objects.filter(status=Company.Status.POOLED).count() == 1


def test_claim_enqueues_a_pool_refill_after_commit(db: None, django_capture_on_commit_callbacks: object) -> None:
    # when
    with django_capture_on_commit_callbacks() as callbacks:  # type: ignore[operator]
        _create()
    # then
    assert len(callbacks) == 1
