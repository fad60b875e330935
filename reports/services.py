"""The rollup: folds changed threads, messages and ratings into episodes and daily rows.

One entry point, `reports_rollup`, used by the beat task (incremental, from the watermark)
and by `manage.py reports_rebuild` (everything, or from a date). Every statement is
set-based SQL over the changed range; running it twice, or two runs at once, gives the same
rows: the watermark row is locked FOR UPDATE for the whole run, so runs take turns, and
each run recomputes whole threads and whole days from the source rows rather than adding
deltas. Definitions: docs/reports.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from reports import selectors
from reports.models import Watermark

logger = logging.getLogger(__name__)

# A message or status change committed a little after the clock it carries (a long
# transaction) is still seen: each run looks back this far before its watermark.
OVERLAP = timedelta(minutes=10)
# A broadcast message counts as replied when its recipient writes within this time.
REPLY_WINDOW = timedelta(hours=72)
# Statuses of an outbound message that never reached the customer: not a response.
NOT_SENT_STATUSES = ("failed", "cancelled", "scheduled")


@dataclass(frozen=True)
class RollupResult:
    threads: int
    days: int
    broadcasts: int
    full: bool


# --- episodes ------------------------------------------------------------------------------

# Recomputes the episodes of the threads in `reports_touched` (thread_id) from scratch.
# Resolves are the status log's plus the thread's current `resolved_at` (history from before
# the log existed); inbound messages and resolves are merged in time order, `seg` counts the
# resolves before each inbound, and the first inbound of each segment opens an episode that
# the next resolve ends.
_EPISODES_SQL = """
WITH resolves AS (
    SELECT e.thread_id, e.at FROM reports_threadstatusevent e
    JOIN reports_touched t ON t.thread_id = e.thread_id WHERE e.status = 'resolved'
    UNION
    SELECT th.id, th.resolved_at FROM inbox_thread th
    JOIN reports_touched t ON t.thread_id = th.id
    WHERE th.status = 'resolved' AND th.resolved_at IS NOT NULL
),
stream AS (
    SELECT thread_id, at, 1 AS is_resolve FROM resolves
    UNION ALL
    SELECT m.thread_id, m.created_at, 0 FROM inbox_message m
    JOIN reports_touched t ON t.thread_id = m.thread_id
    WHERE m.direction = 'inbound'
),
segmented AS (
    SELECT thread_id, at, is_resolve,
           SUM(is_resolve) OVER (PARTITION BY thread_id ORDER BY at, is_resolve DESC
                                 ROWS UNBOUNDED PRECEDING) AS seg
    FROM stream
),
opened AS (
    SELECT thread_id, MIN(at) AS opened_at FROM segmented WHERE is_resolve = 0 GROUP BY thread_id, seg
),
closed AS (
    SELECT o.thread_id, o.opened_at, r.at AS resolved_at, r.assignee_id AS resolve_assignee
    FROM opened o
    LEFT JOIN LATERAL (
        SELECT rs.at, (SELECT e.assignee_id FROM reports_threadstatusevent e
                       WHERE e.thread_id = rs.thread_id AND e.status = 'resolved' AND e.at = rs.at
                       ORDER BY e.id DESC LIMIT 1) AS assignee_id
        FROM resolves rs WHERE rs.thread_id = o.thread_id AND rs.at > o.opened_at
        ORDER BY rs.at LIMIT 1
    ) r ON TRUE
)
INSERT INTO reports_episode (thread_id, opened_at, opened_day, first_response_at, first_response_day,
                             responder_id, resolved_at, resolved_day, agent_id)
SELECT c.thread_id, c.opened_at, (c.opened_at AT TIME ZONE %(tz)s)::date,
       fr.created_at, (fr.created_at AT TIME ZONE %(tz)s)::date, fr.sent_by_id,
       c.resolved_at, (c.resolved_at AT TIME ZONE %(tz)s)::date,
       COALESCE(CASE WHEN c.resolved_at IS NULL THEN th.assignee_id
                     ELSE COALESCE(c.resolve_assignee, th.assignee_id) END, fr.sent_by_id)
FROM closed c
JOIN inbox_thread th ON th.id = c.thread_id
LEFT JOIN LATERAL (
    SELECT m.created_at, m.sent_by_id FROM inbox_message m
    WHERE m.thread_id = c.thread_id AND m.direction = 'outbound' AND m.sent_by_id IS NOT NULL
      AND m.status NOT IN ('failed', 'cancelled', 'scheduled')
      AND m.created_at > c.opened_at AND (c.resolved_at IS NULL OR m.created_at <= c.resolved_at)
    ORDER BY m.created_at, m.id LIMIT 1
) fr ON TRUE
"""

# The days whose rows depend on the episodes of the touched threads.
_EPISODE_DAYS_SQL = """
INSERT INTO reports_days (day)
SELECT d FROM (
    SELECT opened_day AS d FROM reports_episode e JOIN reports_touched t ON t.thread_id = e.thread_id
    UNION SELECT first_response_day FROM reports_episode e JOIN reports_touched t ON t.thread_id = e.thread_id
    UNION SELECT resolved_day FROM reports_episode e JOIN reports_touched t ON t.thread_id = e.thread_id
) s WHERE d IS NOT NULL
ON CONFLICT DO NOTHING
"""

# --- daily rows ----------------------------------------------------------------------------

# Every fact that counts on one of `reports_days`: an opened conversation on its opening day,
# a first response on its day, a resolve on its day, a rating on its day. `labels` is the
# thread's labels now ({0}: none); a rating carries the labels kept with it when it came.
_FACTS_SQL = """
CREATE TEMP TABLE reports_facts ON COMMIT DROP AS
SELECT e.opened_day AS day, e.agent_id, e.thread_id, 1 AS opened, 0 AS resolved, 0.0::float AS res_s,
       0 AS responded, 0.0::float AS frt_s, 0 AS csat_n, 0 AS csat_sum
FROM reports_episode e JOIN reports_days d ON d.day = e.opened_day
UNION ALL
SELECT e.first_response_day, e.agent_id, e.thread_id, 0, 0, 0.0, 1,
       EXTRACT(EPOCH FROM e.first_response_at - e.opened_at)::float, 0, 0
FROM reports_episode e JOIN reports_days d ON d.day = e.first_response_day
UNION ALL
SELECT e.resolved_day, e.agent_id, e.thread_id, 0, 1,
       EXTRACT(EPOCH FROM e.resolved_at - e.opened_at)::float, 0, 0.0, 0, 0
FROM reports_episode e JOIN reports_days d ON d.day = e.resolved_day
"""

_CSAT_FACTS_SQL = """
CREATE TEMP TABLE reports_csat_facts ON COMMIT DROP AS
SELECT (r.created_at AT TIME ZONE %(tz)s)::date AS day, r.agent_id, r.id AS response_id, r.rating
FROM inbox_csatresponse r
JOIN reports_days d ON d.day = (r.created_at AT TIME ZONE %(tz)s)::date
"""

_AGGREGATE_SQL = """
CREATE TEMP TABLE reports_new ON COMMIT DROP AS
WITH labelled AS (
    SELECT f.*, COALESCE(NULLIF(ARRAY(SELECT tl.label_id FROM inbox_thread_labels tl
                                      WHERE tl.thread_id = f.thread_id), '{}'), '{0}') AS labels
    FROM reports_facts f
),
csat AS (
    SELECT c.*, COALESCE(NULLIF(ARRAY(SELECT cl.label_id FROM inbox_csatresponse_labels cl
                                      WHERE cl.csatresponse_id = c.response_id), '{}'), '{0}') AS labels
    FROM reports_csat_facts c
),
keyed AS (
    SELECT day, 0 AS dimension, 0::bigint AS key, opened, resolved, res_s, responded, frt_s, 0 AS csat_n, 0 AS csat_sum
    FROM labelled
    UNION ALL
    SELECT day, 1, COALESCE(agent_id, 0), opened, resolved, res_s, responded, frt_s, 0, 0 FROM labelled
    UNION ALL
    SELECT day, 2, unnest(labels), opened, resolved, res_s, responded, frt_s, 0, 0 FROM labelled
    UNION ALL
    SELECT day, 0, 0, 0, 0, 0.0, 0, 0.0, 1, rating FROM csat
    UNION ALL
    SELECT day, 1, COALESCE(agent_id, 0), 0, 0, 0.0, 0, 0.0, 1, rating FROM csat
    UNION ALL
    SELECT day, 2, unnest(labels), 0, 0, 0.0, 0, 0.0, 1, rating FROM csat
)
SELECT day, dimension, key, SUM(opened)::int AS opened, SUM(resolved)::int AS resolved,
       SUM(res_s) AS resolution_seconds, SUM(responded)::int AS responded,
       SUM(frt_s) AS first_response_seconds, SUM(csat_n)::int AS csat_count, SUM(csat_sum)::int AS csat_sum
FROM keyed GROUP BY day, dimension, key
"""

_UPSERT_SQL = """
INSERT INTO reports_dailystat (day, dimension, key, opened, resolved, resolution_seconds, responded,
                               first_response_seconds, csat_count, csat_sum)
SELECT day, dimension, key, opened, resolved, resolution_seconds, responded, first_response_seconds,
       csat_count, csat_sum
FROM reports_new
ON CONFLICT (dimension, key, day) DO UPDATE SET
    opened = EXCLUDED.opened, resolved = EXCLUDED.resolved,
    resolution_seconds = EXCLUDED.resolution_seconds, responded = EXCLUDED.responded,
    first_response_seconds = EXCLUDED.first_response_seconds,
    csat_count = EXCLUDED.csat_count, csat_sum = EXCLUDED.csat_sum
"""

# Rows of a recomputed day that nothing counts on any more (a thread was relabelled, a
# conversation moved to another agent or day).
_STALE_SQL = """
DELETE FROM reports_dailystat s USING reports_days d
WHERE s.day = d.day
  AND NOT EXISTS (SELECT 1 FROM reports_new n WHERE n.day = s.day AND n.dimension = s.dimension AND n.key = s.key)
"""

# --- broadcast funnel ----------------------------------------------------------------------

_FUNNEL_SQL = """
INSERT INTO reports_broadcastfunnel (broadcast_id, sent, delivered, read, replied, failed, computed_at, is_final)
SELECT b.id,
       COUNT(*) FILTER (WHERE d.status = 2),
       COUNT(*) FILTER (WHERE d.status = 2 AND m.status IN ('delivered', 'read')),
       COUNT(*) FILTER (WHERE d.status = 2 AND m.status = 'read'),
       COUNT(*) FILTER (WHERE d.status = 2 AND EXISTS (
           SELECT 1 FROM inbox_message r
           WHERE r.thread_id = m.thread_id AND r.direction = 'inbound'
             AND r.created_at > COALESCE(m.sent_at, m.created_at)
             AND r.created_at <= COALESCE(m.sent_at, m.created_at) + %(window)s)),
       COUNT(*) FILTER (WHERE d.status = 5 OR (d.status = 2 AND m.status = 'failed')),
       %(now)s,
       b.status IN ('completed', 'cancelled', 'failed')
           AND COALESCE(b.completed_at, b.updated_at) + %(window)s + %(overlap)s < %(now)s
FROM inbox_broadcast b
LEFT JOIN inbox_delivery d ON d.broadcast_id = b.id
LEFT JOIN inbox_message m ON m.id = d.message_id
WHERE b.id = ANY(%(ids)s)
GROUP BY b.id
ON CONFLICT (broadcast_id) DO UPDATE SET
    sent = EXCLUDED.sent, delivered = EXCLUDED.delivered, read = EXCLUDED.read,
    replied = EXCLUDED.replied, failed = EXCLUDED.failed, computed_at = EXCLUDED.computed_at,
    is_final = EXCLUDED.is_final
"""


def _execute(cursor, sql: str, params: dict[str, object] | None = None) -> int:  # type: ignore[no-untyped-def]
    cursor.execute(sql, params or {})
    return cursor.rowcount


def _temp_tables(cursor) -> None:  # type: ignore[no-untyped-def]
    # Dropped first: in a test the surrounding transaction never commits, so ON COMMIT DROP
    # would not have removed the previous run's tables yet.
    for name in ("reports_touched", "reports_days", "reports_facts", "reports_csat_facts", "reports_new"):
        cursor.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
    cursor.execute("CREATE TEMP TABLE reports_touched (thread_id bigint PRIMARY KEY) ON COMMIT DROP")
    cursor.execute("CREATE TEMP TABLE reports_days (day date PRIMARY KEY) ON COMMIT DROP")


def _rollup_touched(cursor, *, tz: str, since: datetime | None, since_day: date | None) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Recomputes episodes of the touched threads and the days they count on."""
    if since_day is not None:
        # A rebuild from a date: every thread with an episode or a message from that day on.
        start = selectors.day_start(day=since_day, tz=tz)
        cursor.execute(
            """
            INSERT INTO reports_touched (thread_id)
            SELECT DISTINCT thread_id FROM inbox_message WHERE created_at >= %(start)s
            UNION SELECT thread_id FROM reports_episode
                  WHERE opened_day >= %(day)s OR resolved_day >= %(day)s OR first_response_day >= %(day)s
                        OR resolved_at IS NULL
            ON CONFLICT DO NOTHING
            """,
            {"start": start, "day": since_day},
        )
        cursor.execute(
            """
            INSERT INTO reports_days (day)
            SELECT DISTINCT (created_at AT TIME ZONE %(tz)s)::date FROM inbox_csatresponse WHERE created_at >= %(start)s
            ON CONFLICT DO NOTHING
            """,
            {"tz": tz, "start": start},
        )
    elif since is None:
        # From scratch (the caller emptied the tables): every thread, every rating's day.
        cursor.execute("INSERT INTO reports_touched (thread_id) SELECT id FROM inbox_thread")
        cursor.execute(
            "INSERT INTO reports_days (day) SELECT DISTINCT (created_at AT TIME ZONE %(tz)s)::date "
            "FROM inbox_csatresponse ON CONFLICT DO NOTHING",
            {"tz": tz},
        )
    else:
        cursor.execute(
            """
            INSERT INTO reports_touched (thread_id)
            SELECT thread_id FROM inbox_message WHERE created_at > %(since)s
            UNION SELECT id FROM inbox_thread WHERE updated_at > %(since)s
            UNION SELECT thread_id FROM reports_threadstatusevent WHERE at > %(since)s
            UNION SELECT thread_id FROM inbox_csatresponse WHERE created_at > %(since)s
            UNION SELECT e.thread_id FROM reports_episode e
                  WHERE NOT EXISTS (SELECT 1 FROM inbox_thread th WHERE th.id = e.thread_id)
            ON CONFLICT DO NOTHING
            """,
            {"since": since},
        )
        cursor.execute(
            """
            INSERT INTO reports_days (day)
            SELECT DISTINCT (created_at AT TIME ZONE %(tz)s)::date FROM inbox_csatresponse WHERE created_at > %(since)s
            ON CONFLICT DO NOTHING
            """,
            {"tz": tz, "since": since},
        )
    cursor.execute("ANALYZE reports_touched")
    # Days the old episodes counted on, then the new episodes, then the days they count on.
    _execute(cursor, _EPISODE_DAYS_SQL)
    cursor.execute("DELETE FROM reports_episode e USING reports_touched t WHERE e.thread_id = t.thread_id")
    _execute(cursor, _EPISODES_SQL, {"tz": tz})
    _execute(cursor, _EPISODE_DAYS_SQL)
    cursor.execute("SELECT COUNT(*) FROM reports_touched")
    threads = cursor.fetchone()[0]
    cursor.execute("SELECT COUNT(*) FROM reports_days")
    days = cursor.fetchone()[0]
    if days:
        cursor.execute("ANALYZE reports_days")
        cursor.execute(_FACTS_SQL)
        cursor.execute(_CSAT_FACTS_SQL, {"tz": tz})
        cursor.execute(_AGGREGATE_SQL)
        cursor.execute(_UPSERT_SQL)
        cursor.execute(_STALE_SQL)
    return threads, days


def _funnels_refresh(cursor, *, now: datetime, rebuild: bool) -> int:  # type: ignore[no-untyped-def]
    """Recomputes the funnel of every started broadcast whose numbers can still move."""
    cursor.execute(
        """
        SELECT b.id FROM inbox_broadcast b
        LEFT JOIN reports_broadcastfunnel f ON f.broadcast_id = b.id
        WHERE b.started_at IS NOT NULL AND (%(rebuild)s OR f.id IS NULL OR NOT f.is_final)
        """,
        {"rebuild": rebuild},
    )
    ids = [row[0] for row in cursor.fetchall()]
    if ids:
        cursor.execute(_FUNNEL_SQL, {"ids": ids, "now": now, "window": REPLY_WINDOW, "overlap": OVERLAP})
    return len(ids)


def reports_rollup(
    *, now: datetime | None = None, rebuild: bool = False, since_day: date | None = None
) -> RollupResult:
    """Folds everything changed since the watermark into the rollups (the beat task's work).

    `rebuild` recomputes everything (or, with `since_day`, every thread active from that
    company-local day on). The watermark row is locked FOR UPDATE for the whole run, so a
    second run waits and then finds little or nothing to do; each run recomputes whole
    threads and days, so a repeated run changes nothing.
    """
    tz = selectors.company_time_zone()
    with transaction.atomic():
        Watermark.objects.get_or_create(pk=1)
        mark = Watermark.objects.select_for_update().get(pk=1)
        # The clock is read once the lock is held: a run that waited for another one still
        # covers everything up to the moment it starts working.
        now = now or timezone.now()
        zone_moved = mark.processed_until is not None and mark.time_zone != tz
        full = rebuild or mark.processed_until is None or zone_moved
        if zone_moved or mark.processed_until is None:
            since_day = None  # every stored day is wrong or missing: nothing partial will do
        since = None if full else mark.processed_until - OVERLAP
        with connection.cursor() as cursor:
            _temp_tables(cursor)
            if full and since_day is None:
                # From scratch: nothing stored may survive (a zone change moves every day).
                cursor.execute("DELETE FROM reports_episode")
                cursor.execute("DELETE FROM reports_dailystat")
            threads, days = _rollup_touched(cursor, tz=tz, since=since, since_day=since_day if full else None)
            broadcasts = _funnels_refresh(cursor, now=now, rebuild=full)
        mark.processed_until = now
        mark.time_zone = tz
        mark.updated_at = timezone.now()
        mark.save(update_fields=["processed_until", "time_zone", "updated_at"])
    logger.info("reports rollup: %s threads, %s days, %s broadcasts (full=%s)", threads, days, broadcasts, full)
    return RollupResult(threads=threads, days=days, broadcasts=broadcasts, full=full)
