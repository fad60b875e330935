"""Stored inbound webhook bodies are deleted once processed and older than the retention."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tenants import inbound
from tenants.models import ProviderEvent

pytestmark = pytest.mark.django_db


def _event(*, age_days: float, processed: bool) -> ProviderEvent:
    event = ProviderEvent.objects.create(body=b'{"object":"whatsapp_business_account","entry":[]}', signature="s")
    received = timezone.now() - timedelta(days=age_days)
    ProviderEvent.objects.filter(pk=event.pk).update(
        received_at=received, processed_at=received + timedelta(seconds=1) if processed else None
    )
    return event


def test_processed_bodies_past_the_retention_go_and_the_rest_stay(settings: Any) -> None:
    # given: a 30-day retention; old and recent, processed and not
    settings.PROVIDER_EVENT_RETENTION_DAYS = 30
    old_done = [_event(age_days=31, processed=True) for _ in range(5)]
    old_pending = _event(age_days=40, processed=False)
    recent_done = _event(age_days=29, processed=True)
    # when: in batches of 2, so the loop runs three times
    deleted = inbound.provider_events_purge(batch=2)
    # then
    assert deleted == 5
    assert not ProviderEvent.objects.filter(pk__in=[e.pk for e in old_done]).exists()
    assert set(ProviderEvent.objects.values_list("pk", flat=True)) >= {old_pending.pk, recent_done.pk}


def test_the_retention_is_a_setting(settings: Any) -> None:
    # given
    settings.PROVIDER_EVENT_RETENTION_DAYS = 7
    week_old = _event(age_days=8, processed=True)
    # when
    deleted = inbound.provider_events_purge()
    # then
    assert deleted == 1
    assert not ProviderEvent.objects.filter(pk=week_old.pk).exists()


def test_the_beat_runs_the_purge(settings: Any) -> None:
    # given: the schedule in config/settings.py
    entry = settings.CELERY_BEAT_SCHEDULE["provider-events-purge"]
    # when / then: it names the task, which runs the purge
    assert entry["task"] == "tenants.tasks.provider_events_purge_task"
    from tenants import tasks

    old = _event(age_days=45, processed=True)
    tasks.provider_events_purge_task.apply()
    assert not ProviderEvent.objects.filter(pk=old.pk).exists()
