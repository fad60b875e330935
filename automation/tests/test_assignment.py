"""Auto-assignment: round-robin among available opted-in agents, caps, waiting threads."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import UserFactory
from automation import services, tasks
from automation.models import AutomationSettings
from automation.tests.helpers import inbound, settings_set
from conftest import Persona
from inbox.models import Thread
from inbox.tests.factories import ThreadFactory
from tenants.models import Company


def _team(*caps: int) -> list[User]:
    """Agents opted in to auto-assignment with these caps (ids ascending)."""
    agents = []
    for cap in caps:
        agent = UserFactory()
        services.agent_automation_update(user=agent, auto_assign=True, max_open_threads=cap)
        agents.append(agent)
    return agents


def _assign_new(count: int) -> list[User | None]:
    found = []
    for _ in range(count):
        thread = ThreadFactory()
        found.append(services.thread_auto_assign(thread_id=thread.pk))
    return found


def test_new_threads_go_round_robin(tenant_a: Company) -> None:
    # given
    settings_set(auto_assign_enabled=True)
    ann, ben, cid = _team(10, 10, 10)
    # when
    assigned = _assign_new(5)
    # then
    assert assigned == [ann, ben, cid, ann, ben]
    assert Thread.objects.filter(assignee=ann).count() == 2


def test_only_available_opted_in_active_agents_get_threads(tenant_a: Company, alice: Persona, bob: Persona) -> None:
    # given: alice and bob never opted in; ann went away; ben was deactivated
    settings_set(auto_assign_enabled=True)
    ann, ben, cid = _team(10, 10, 10)
    services.agent_availability_set(user=ann, available=False)
    User.objects.filter(pk=ben.pk).update(is_active=False)
    # when
    assigned = _assign_new(3)
    # then
    assert assigned == [cid, cid, cid]


def test_the_rule_is_off_by_default(tenant_a: Company) -> None:
    _team(10)
    assert _assign_new(1) == [None]


def test_an_agent_at_cap_is_skipped_and_a_full_team_leaves_the_thread_waiting(tenant_a: Company) -> None:
    # given
    settings_set(auto_assign_enabled=True)
    ann, ben = _team(1, 2)
    # when
    assigned = _assign_new(4)
    # then
    assert assigned == [ann, ben, ben, None]
    assert Thread.objects.filter(assignee__isnull=True).count() == 1


def test_resolved_and_snoozed_threads_do_not_count_against_the_cap(tenant_a: Company) -> None:
    settings_set(auto_assign_enabled=True)
    (ann,) = _team(1)
    ThreadFactory(assignee=ann, status=Thread.Status.RESOLVED)
    ThreadFactory(assignee=ann, status=Thread.Status.SNOOZED, snoozed_until=timezone.now() + timedelta(hours=1))
    assert _assign_new(1) == [ann]
    pending = Thread.objects.get(assignee=ann, status=Thread.Status.OPEN)
    Thread.objects.filter(pk=pending.pk).update(status=Thread.Status.PENDING)
    assert _assign_new(1) == [None]


def test_an_assigned_or_closed_thread_is_left_alone(tenant_a: Company, bob: Persona) -> None:
    settings_set(auto_assign_enabled=True)
    _team(10)
    taken = ThreadFactory(assignee=bob.user)
    resolved = ThreadFactory(status=Thread.Status.RESOLVED)
    assert services.thread_auto_assign(thread_id=taken.pk) is None
    assert services.thread_auto_assign(thread_id=resolved.pk) is None
    assert Thread.objects.get(pk=taken.pk).assignee == bob.user
    assert Thread.objects.get(pk=resolved.pk).assignee is None


def test_waiting_threads_are_picked_up_oldest_first_when_capacity_frees(tenant_a: Company) -> None:
    # given: ann is full, three threads wait
    settings_set(auto_assign_enabled=True)
    (ann,) = _team(1)
    busy = ThreadFactory()
    services.thread_auto_assign(thread_id=busy.pk)
    now = timezone.now()
    newest = ThreadFactory(last_inbound_at=now - timedelta(minutes=1))
    oldest = ThreadFactory(last_inbound_at=now - timedelta(minutes=30))
    middle = ThreadFactory(last_inbound_at=now - timedelta(minutes=10))
    assert services.threads_assign_waiting() == 0
    # when: ann resolves her thread
    Thread.objects.filter(pk=busy.pk).update(status=Thread.Status.RESOLVED)
    tasks.automation_assign_waiting_task.run()
    # then
    assert Thread.objects.get(pk=oldest.pk).assignee == ann
    assert Thread.objects.filter(pk__in=[middle.pk, newest.pk], assignee__isnull=True).count() == 2


def test_a_reopened_unassigned_thread_is_assigned_by_its_new_message(tenant_a: Company) -> None:
    # given: a resolved thread nobody had
    settings_set(auto_assign_enabled=True)
    (ann,) = _team(5)
    thread = ThreadFactory(status=Thread.Status.RESOLVED)
    message = inbound(thread=thread)
    Thread.objects.filter(pk=thread.pk).update(status=Thread.Status.OPEN)  # as thread_record_inbound does
    # when
    services.inbound_automation_run(message_id=message.pk)
    # then
    assert Thread.objects.get(pk=thread.pk).assignee == ann


def test_the_pointer_survives_agents_leaving(tenant_a: Company) -> None:
    settings_set(auto_assign_enabled=True)
    ann, ben, cid = _team(10, 10, 10)
    assert _assign_new(2) == [ann, ben]
    services.agent_automation_update(user=cid, auto_assign=False)
    assert _assign_new(2) == [ann, ben]
    assert AutomationSettings.objects.get().last_assigned_user == ben


def test_a_cap_must_be_positive(tenant_a: Company) -> None:
    import pytest
    from django.core.exceptions import ValidationError

    (ann,) = _team(3)
    with pytest.raises(ValidationError):
        services.agent_automation_update(user=ann, max_open_threads=0)
