"""Reports' pre-aggregated data (docs/reports.md): what page views read instead of messages.

Everything here is derived: `reports_rebuild` can recompute it from inbox rows at any time.
Thread and user ids are plain integers, not foreign keys: the rows are rewritten in bulk by
set-based SQL, and a deleted thread's episodes are removed by the next rollup run (which
also moves the days they counted on), not by a cascade that would leave those days stale.
"""

from __future__ import annotations

from django.db import models


class ThreadStatusEvent(models.Model):
    """One change of a thread's status, written by a database trigger (migration 0001).

    `Thread.resolved_at` keeps only the latest resolve and an inbound message clears it, so
    a resolve followed by a reopen between two rollup runs would otherwise leave no trace.
    The trigger records every transition in the transaction that made it, with no code in
    the send paths. `assignee_id` is the thread's assignee at that moment.
    """

    thread_id = models.BigIntegerField()
    at = models.DateTimeField()
    status = models.CharField(max_length=16)
    assignee_id = models.BigIntegerField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["thread_id", "at"], name="reports_status_thread"),
            models.Index(fields=["at"], name="reports_status_at"),
        ]

    def __str__(self) -> str:
        return f"thread {self.thread_id} → {self.status} at {self.at:%Y-%m-%d %H:%M}"


class Episode(models.Model):
    """One conversation: from the inbound message that opens it to the resolve that ends it.

    Days are company-local dates (docs/reports.md, "Days"), so the rollup groups by column.
    `agent_id` is who the conversation counts for: the assignee when it was resolved (the
    current assignee while it is open), else the agent who answered first.
    """

    thread_id = models.BigIntegerField()
    opened_at = models.DateTimeField()
    opened_day = models.DateField()
    first_response_at = models.DateTimeField(null=True)
    first_response_day = models.DateField(null=True)
    responder_id = models.BigIntegerField(null=True)
    resolved_at = models.DateTimeField(null=True)
    resolved_day = models.DateField(null=True)
    agent_id = models.BigIntegerField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["thread_id", "opened_at"], name="reports_episode_unique")]
        indexes = [
            models.Index(fields=["opened_day"], name="reports_episode_opened"),
            models.Index(fields=["first_response_day"], name="reports_episode_responded"),
            models.Index(fields=["resolved_day"], name="reports_episode_resolved"),
        ]

    def __str__(self) -> str:
        return f"episode of thread {self.thread_id} from {self.opened_at:%Y-%m-%d %H:%M}"


class DailyStat(models.Model):
    """One company-local day's numbers, for everyone, per agent or per label.

    `key` is 0 for the whole company, the user id for `agent` (0: nobody), the label id for
    `label` (0: no label). Sums, not averages, so any range adds up exactly.
    """

    class Dimension(models.IntegerChoices):
        ALL = 0, "All"
        AGENT = 1, "Agent"
        LABEL = 2, "Label"

    day = models.DateField()
    dimension = models.PositiveSmallIntegerField(choices=Dimension.choices)
    key = models.BigIntegerField(default=0)
    opened = models.IntegerField(default=0)
    resolved = models.IntegerField(default=0)
    resolution_seconds = models.FloatField(default=0)
    responded = models.IntegerField(default=0)
    first_response_seconds = models.FloatField(default=0)
    csat_count = models.IntegerField(default=0)
    csat_sum = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dimension", "key", "day"], name="reports_daily_unique")]
        indexes = [models.Index(fields=["dimension", "day"], name="reports_daily_dim_day")]

    def __str__(self) -> str:
        return f"{self.day} {self.get_dimension_display()} {self.key}"


class BroadcastFunnel(models.Model):
    """A broadcast's funnel (sent → delivered → read → replied), refreshed by the rollup.

    `is_final` once the reply window of every message has passed: never recomputed again.
    """

    broadcast_id = models.BigIntegerField(unique=True)
    sent = models.IntegerField(default=0)
    delivered = models.IntegerField(default=0)
    read = models.IntegerField(default=0)
    replied = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)
    computed_at = models.DateTimeField()
    is_final = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"funnel of broadcast {self.broadcast_id}"


class Watermark(models.Model):
    """The one row per company that serialises rollup runs (locked FOR UPDATE) and says up to
    when changes have been folded in."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    processed_until = models.DateTimeField(null=True)
    # The zone the stored days were computed in: a different zone now means a full rebuild.
    time_zone = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"reports processed until {self.processed_until}"
