"""Celery app. tenant-schemas-celery carries the schema of the sender with every task."""

from __future__ import annotations

import os
from typing import Any

from celery import signals
from django.db import close_old_connections, connections
from tenant_schemas_celery.app import CeleryApp

from config import runtime

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("kontakt")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


# Database connections live across tasks as they do across web requests: closed when older
# than CONN_MAX_AGE or after an error, otherwise reused, with CONN_HEALTH_CHECKS pinging a
# reused one first. Celery's Django fixup would close every connection before and after each
# task (config/settings.py turns that off with CELERY_DB_REUSE_MAX): a new PostgreSQL
# backend per task costs ~5 ms and a cold catalogue cache, which was a tenth of a
# broadcast's database time at 200 chunk tasks per 100k recipients.
@signals.task_prerun.connect
@signals.task_postrun.connect
def _db_connections_recycle(task: Any = None, **kwargs: Any) -> None:
    if task is not None and getattr(task.request, "is_eager", False):
        return  # runs inside the caller's connection and, maybe, its transaction
    if any(conn.in_atomic_block for conn in connections.all(initialized_only=True)):
        return
    close_old_connections()


# The garbage collector skips what the worker holds once started and runs less often
# (config/runtime.py): in a broadcast worker it took a fifth of the CPU. `worker_init`
# runs in the main process before a prefork pool forks, `worker_process_init` in each
# child and in a solo worker.
@signals.worker_init.connect
@signals.worker_process_init.connect
def _gc_tune(**kwargs: Any) -> None:
    runtime.gc_tune()
