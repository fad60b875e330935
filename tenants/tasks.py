from __future__ import annotations

from celery import current_app, shared_task
from django.db import InterfaceError, OperationalError
from django_tenants.utils import schema_context

from tenants import inbound, selectors, services


@shared_task(ignore_result=True)
def tenant_pool_fill_task() -> None:
    """Keeps TENANT_POOL_SIZE migrated schemas ready for signups (beat + after each claim)."""
    services.tenant_pool_fill()


# --- inbound provider webhooks -----------------------------------------------------------


@shared_task(
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=5,
    retry_backoff_max=600,
    max_retries=10,
)
def provider_event_process_task(event_id: int) -> None:
    """Routes and applies one stored webhook body (idempotent; see tenants/inbound.py)."""
    inbound.provider_event_process(event_id=event_id)


@shared_task(ignore_result=True)
def provider_events_requeue_task() -> None:
    """Beat: re-enqueues webhook bodies left unprocessed (e.g. the broker was down at receipt)."""
    inbound.provider_events_requeue()


@shared_task(ignore_result=True)
def provider_events_purge_task() -> None:
    """Beat: deletes processed webhook bodies past PROVIDER_EVENT_RETENTION_DAYS."""
    inbound.provider_events_purge()


# --- per-company periodic work -------------------------------------------------------------


@shared_task(ignore_result=True)
def companies_fanout_task(task_name: str) -> None:
    """Beat, in the public schema: sends `task_name` once per live company, in its schema.

    Beat itself runs in public (tenant-schemas-celery #27); sending from inside each
    company's schema_context makes every copy run in that company's schema.
    """
    task = current_app.tasks[task_name]
    for schema_name in selectors.company_schema_names_live():
        with schema_context(schema_name):
            task.delay()
