"""The message table's indexes hold what their queries ask for, and no more."""

from __future__ import annotations

from django.db import connection

from inbox.models import Message


def _indexdef(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexname = %s AND schemaname = current_schema()",
            [Message._meta.db_table, name],
        )
        row = cursor.fetchone()
    assert row is not None, f"no index {name}"
    return row[0]


def test_the_sender_index_holds_agents_messages_only(tenant_a: object) -> None:
    # then: inbound, broadcast and automated messages (no sender) add no entry
    assert "WHERE (sent_by_id IS NOT NULL)" in _indexdef("message_sent_by")


def test_a_users_messages_are_found_by_the_partial_index(tenant_a: object) -> None:
    # when: the question reports and a user's deletion ask
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN SELECT id FROM {Message._meta.db_table} WHERE sent_by_id = 1")  # noqa: S608
        plan = " ".join(row[0] for row in cursor.fetchall())
    # then
    assert "message_sent_by" in plan
