"""Celery app. tenant-schemas-celery carries the schema of the sender with every task."""

from __future__ import annotations

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("kontakt")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
