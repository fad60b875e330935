"""Thin Celery entry points for reports."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from reports import services


@shared_task(
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=30,
    max_retries=5,
)
def reports_rollup_task() -> None:
    """Beat, per company (companies_fanout_task): folds changes into the rollups."""
    services.reports_rollup()
