from __future__ import annotations

import pytest
from celery import current_app
from django.db import connection

from tenants import tasks
from tenants.models import Company


def test_sends_the_task_once_per_live_company_in_its_schema(
    company_a: Company, company_b: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    Company.objects.filter(pk=company_b.pk).update(status=Company.Status.SUSPENDED)
    task = current_app.tasks["inbox.tasks.thread_wake_snoozed_task"]
    sent_from: list[str] = []
    monkeypatch.setattr(task, "delay", lambda *a, **kw: sent_from.append(connection.schema_name))
    # when
    tasks.companies_fanout_task.run("inbox.tasks.thread_wake_snoozed_task")
    # then: suspended companies still get housekeeping; pooled schemas do not
    assert company_a.schema_name in sent_from
    assert company_b.schema_name in sent_from
    assert not any(name.startswith("pool_") for name in sent_from)
    assert connection.schema_name == "public"
