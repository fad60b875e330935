"""A real Celery worker process carries the sender's schema (tenant-schemas-celery)."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_string
from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts import tasks
from accounts.models import Invitation
from accounts.tests.factories import InvitationFactory
from config.tests.workers import mail_worker, mails_wait
from inbox.tests.browser import committed_db  # noqa: F401 - fixture


@pytest.fixture
def celery_worker_process(tmp_path: Path, personas: object) -> Iterator[Path]:
    """Starts `celery worker` on this session's queues and test database; yields its mail folder."""
    with mail_worker(tmp_path) as folder:
        yield folder


@pytest.mark.worker
def test_task_sent_from_company_a_runs_in_a_schema(
    committed_db: None,  # noqa: F811
    personas: dict[str, object],
    celery_worker_process: Path,
) -> None:
    # given: an invitation in A and a decoy with the same id in B
    alice, charlie = personas["alice"], personas["charlie"]
    with schema_context(alice.company.schema_name):  # type: ignore[attr-defined]
        invitation = InvitationFactory(email="dana@acme.test", invited_by=alice.user)  # type: ignore[attr-defined]
    with schema_context(charlie.company.schema_name):  # type: ignore[attr-defined]
        decoy = InvitationFactory(id=invitation.pk, email="decoy@globex.test", invited_by=charlie.user)  # type: ignore[attr-defined]
    try:
        # when: the task is sent while the connection is in A's schema
        with schema_context(alice.company.schema_name):  # type: ignore[attr-defined]
            tasks.invitation_email_send_task.delay(invitation.pk)
        mails = mails_wait(celery_worker_process)
        # then: the worker found A's invitation, not B's decoy, and linked to A's host
        assert len(mails) == 1, (celery_worker_process.parent / "worker.log").read_text()
        message = message_from_string(mails[0].split("\n-------", 1)[0])
        assert message["To"] == "dana@acme.test"
        assert "://acme.localhost" in mails[0]
        with schema_context(charlie.company.schema_name):  # type: ignore[attr-defined]
            assert Invitation.objects.get(pk=decoy.pk).token_hash == decoy.token_hash
    finally:
        with schema_context(alice.company.schema_name):  # type: ignore[attr-defined]
            Invitation.objects.filter(pk=invitation.pk).delete()
        with schema_context(charlie.company.schema_name):  # type: ignore[attr-defined]
            Invitation.objects.filter(pk=decoy.pk).delete()


def _other_backends() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.worker
def test_worker_keeps_its_database_connection_across_tasks_and_schemas(
    committed_db: None,  # noqa: F811
    personas: dict[str, object],
    celery_worker_process: Path,
) -> None:
    # given: an invitation in A and one in B
    alice, charlie = personas["alice"], personas["charlie"]
    with schema_context(alice.company.schema_name):  # type: ignore[attr-defined]
        first = InvitationFactory(email="erin@acme.test", invited_by=alice.user)  # type: ignore[attr-defined]
    with schema_context(charlie.company.schema_name):  # type: ignore[attr-defined]
        second = InvitationFactory(email="finn@globex.test", invited_by=charlie.user)  # type: ignore[attr-defined]
    before = _other_backends()
    try:
        # when: A's task, then B's
        with schema_context(alice.company.schema_name):  # type: ignore[attr-defined]
            tasks.invitation_email_send_task.delay(first.pk)
        assert len(mails_wait(celery_worker_process)) == 1
        after_first = _other_backends() - before
        with schema_context(charlie.company.schema_name):  # type: ignore[attr-defined]
            tasks.invitation_email_send_task.delay(second.pk)
        mails = mails_wait(celery_worker_process, count=2)
        after_second = _other_backends() - before
        # then: one connection, opened by the first task, served the second in B's schema
        assert len(after_first) == 1, (celery_worker_process.parent / "worker.log").read_text()
        assert after_second == after_first
        assert len(mails) == 2
        assert "finn@globex.test" in mails[1] or "finn@globex.test" in mails[0]
        assert "://globex.localhost" in "".join(mails)
    finally:
        with schema_context(alice.company.schema_name):  # type: ignore[attr-defined]
            Invitation.objects.filter(pk=first.pk).delete()
        with schema_context(charlie.company.schema_name):  # type: ignore[attr-defined]
            Invitation.objects.filter(pk=second.pk).delete()


@pytest.mark.worker
def test_worker_reconnects_when_its_kept_connection_was_closed_by_the_server(
    committed_db: None,  # noqa: F811
    personas: dict[str, object],
    celery_worker_process: Path,
) -> None:
    # given: the worker ran one task and keeps its connection; the server then ends it
    alice = personas["alice"]
    with schema_context(alice.company.schema_name):  # type: ignore[attr-defined]
        first = InvitationFactory(email="gus@acme.test", invited_by=alice.user)  # type: ignore[attr-defined]
        second = InvitationFactory(email="hal@acme.test", invited_by=alice.user)  # type: ignore[attr-defined]
    before = _other_backends()
    try:
        with schema_context(alice.company.schema_name):  # type: ignore[attr-defined]
            tasks.invitation_email_send_task.delay(first.pk)
        assert len(mails_wait(celery_worker_process)) == 1
        kept = _other_backends() - before
        assert len(kept) == 1
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [kept.pop()])
        # when: the next task comes
        with schema_context(alice.company.schema_name):  # type: ignore[attr-defined]
            tasks.invitation_email_send_task.delay(second.pk)
        mails = mails_wait(celery_worker_process, count=2)
        # then: the health check found the dead connection and the task ran on a new one
        assert len(mails) == 2, (celery_worker_process.parent / "worker.log").read_text()
        assert "hal@acme.test" in "".join(mails)
    finally:
        with schema_context(alice.company.schema_name):  # type: ignore[attr-defined]
            Invitation.objects.filter(pk__in=[first.pk, second.pk]).delete()
