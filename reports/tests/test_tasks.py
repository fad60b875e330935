"""The beat wiring: every company's rollup runs in its own schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery import current_app
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from inbox.services.threads import thread_record_inbound
from inbox.tests.factories import MessageFactory, ThreadFactory
from reports import tasks as report_tasks
from reports.models import DailyStat, Watermark
from tenants import tasks
from tenants.models import Company

TASK = "reports.tasks.reports_rollup_task"


def test_beat_fans_the_rollup_out_to_companies() -> None:
    # then
    entry = settings.CELERY_BEAT_SCHEDULE["reports-rollup"]
    assert entry["task"] == "tenants.tasks.companies_fanout_task"
    assert entry["args"] == [TASK]
    assert entry["options"]["expires"] < entry["schedule"]
    assert TASK in current_app.tasks
    assert report_tasks.reports_rollup_task.name == TASK


def test_each_company_rolls_up_its_own_rows(
    company_a: Company, company_b: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a conversation in A; the task body runs where the fan-out sends it
    with schema_context(company_a.schema_name):
        thread = ThreadFactory()
        thread_record_inbound(thread=thread, message=MessageFactory(thread=thread))
    task = current_app.tasks[TASK]
    monkeypatch.setattr(task, "delay", lambda *a, **kw: task.run(*a, **kw))
    # when
    tasks.companies_fanout_task.run(TASK)
    # then
    with schema_context(company_a.schema_name):
        assert DailyStat.objects.get(dimension=DailyStat.Dimension.ALL).opened == 1
        mark = Watermark.objects.get()
        assert mark.processed_until is not None
        assert mark.time_zone == "UTC"
    with schema_context(company_b.schema_name):
        assert not DailyStat.objects.exists()
        assert Watermark.objects.get().processed_until > mark.processed_until - timedelta(minutes=1)
    assert connection.schema_name == "public"
