from __future__ import annotations

from celery import shared_task

from tenants import services


@shared_task(ignore_result=True)
def tenant_pool_fill_task() -> None:
    """Keeps TENANT_POOL_SIZE migrated schemas ready for signups (beat + after each claim)."""
    services.tenant_pool_fill()
