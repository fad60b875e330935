"""Canary and circuit breaker of broadcasts: a broadcast that goes wrong stops by itself.

- **Canary** (optional): the first N deliveries (by id) are sent, then the broadcast holds
  (`phase = canary_hold`, still `running`) while their statuses come in; when the hold has
  passed, the sweeper judges the canary (failures include late `failed` status webhooks of
  its messages) and either lets the rest go or pauses with the numbers. Dispatch never
  hands out an id range past `canary_end_id` during the canary, and no task sleeps or waits
  on a long countdown: the beat-driven sweeper moves the phase on, so a lost task or a
  restarted broker loses nothing.
- **Breaker** (always on while running): pauses the broadcast with `paused_code` and a
  human `paused_reason` when
  (a) the failure rate over its last BROADCAST_BREAKER_SAMPLE finished deliveries passes
      its threshold (at least BROADCAST_BREAKER_MIN_SAMPLE of them);
  (b) a burst of a code that says the campaign itself is the problem: 131049 (per-user
      marketing cap), 131056 (pair rate) or 130429 (throughput) failures — at least
      BROADCAST_BREAKER_BURST of them in the sample;
  (c) the provider keeps refusing with rate-limit codes (130429/131056, which are retried)
      for BROADCAST_BREAKER_THROTTLE_SECONDS without a single success: a short storm is
      absorbed by backoff, a lasting one means the configured rate is above the number's tier;
  (d) an account or template code (STOP_CODES in broadcasts.py; 132015/132016 = template
      paused/disabled): at once, and the recipient goes back to the queue, not to `failed`;
  (e) a `message_template_status_update` webhook pausing or disabling the template
      (`broadcasts_pause_for_template`, called by inbox.services.templates).
  The sample is read in SQL from the newest finished rows below the dispatch cursor (a
  backward walk of the primary key, bounded by the sample and the in-flight window), so a
  check costs about a millisecond whatever the audience size. Flushes check it only when
  their batch had failures; the sweeper checks every running broadcast, which is how late
  `failed` statuses from webhooks count. A resume restarts the sample at the dispatch
  cursor (`breaker_from_id`), so the failures that tripped it do not trip it again at once.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inbox import broadcast_selectors as selectors
from inbox.models import Broadcast, Delivery, Message, Template
from inbox.providers.errors import ERROR_EXPLANATIONS

logger = logging.getLogger(__name__)

DELIVERY = Delivery._meta.db_table
MESSAGE = Message._meta.db_table
BROADCAST = Broadcast._meta.db_table
SENT, FAILED = Delivery.Status.SENT, Delivery.Status.FAILED
QUEUED, SENDING = Delivery.Status.QUEUED, Delivery.Status.SENDING
Code = Broadcast.PausedCode
Phase = Broadcast.Phase

DEFAULTS: dict[str, Any] = {
    # Failure rate (0-1] of the breaker's sample that pauses a broadcast without its own threshold.
    "BROADCAST_FAILURE_THRESHOLD": 0.2,
    # The sample: the newest finished deliveries (sent or failed) of the broadcast.
    "BROADCAST_BREAKER_SAMPLE": 200,
    # Below this many finished deliveries the rate is not judged (one early failure is no trend).
    "BROADCAST_BREAKER_MIN_SAMPLE": 50,
    # Failures with one burst code in the sample that pause at once, whatever the rate.
    "BROADCAST_BREAKER_BURST": 10,
    # Seconds of nothing but rate-limit refusals (retried) after which the broadcast pauses.
    "BROADCAST_BREAKER_THROTTLE_SECONDS": 120,
    # The canary's hold when the broadcast names none.
    "BROADCAST_CANARY_HOLD_SECONDS": 600,
}
MAX_HOLD_SECONDS = 24 * 3600
# Failure codes that say the campaign (not one recipient) is the problem (whatsapp-platform.md §2.5, §3.5-3.7).
BURST_CODES = frozenset({131049, 131056, 130429})
# Transient rate-limit codes: retried, but a lasting storm of them pauses.
THROTTLE_CODES = frozenset({130429, 131056})
# Template state codes (paused, disabled for low quality): the broadcast pauses with code `template_paused`.
TEMPLATE_CODES = frozenset({132015, 132016})

CANARY_INVALID = 'A canary is {"count": N} or {"percent": P}, with an optional "hold_seconds".'
CANARY_KEYS = _("Unknown canary field(s): {names}. Use count or percent, and hold_seconds.")
CANARY_ONE = _("Give the canary either a count or a percent, not both.")
CANARY_COUNT = _("The canary's count is a whole number of recipients, at least 1.")
CANARY_PERCENT = _("The canary's percent is a number above 0 and below 100 (at most two decimals).")
CANARY_HOLD = f"The canary's hold_seconds is a whole number of seconds from 0 to {MAX_HOLD_SECONDS}."
THRESHOLD_INVALID = _("The failure threshold is a fraction above 0 and at most 1, e.g. 0.2 for 20 %.")


def conf(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# --- validation (broadcast_create) ------------------------------------------------------------


def canary_clean(canary: Any) -> dict[str, Any]:
    """The Broadcast fields of a canary request; {} for none. Raises ValidationError(canary)."""
    if canary is None:
        return {}
    if not isinstance(canary, dict):
        raise ValidationError({"canary": [CANARY_INVALID]})
    unknown = sorted(set(canary) - {"count", "percent", "hold_seconds"})
    if unknown:
        raise ValidationError({"canary": [CANARY_KEYS.format(names=", ".join(map(str, unknown)))]})
    count, percent = canary.get("count"), canary.get("percent")
    if (count is None) == (percent is None):
        raise ValidationError({"canary": [CANARY_ONE]})
    fields: dict[str, Any] = {"canary_count": None, "canary_percent": None}
    if count is not None:
        if not _is_int(count) or count < 1:
            raise ValidationError({"canary": [CANARY_COUNT]})
        fields["canary_count"] = count
    else:
        try:
            value = Decimal(str(percent)) if not isinstance(percent, bool) else None
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or not (0 < value < 100) or value != value.quantize(Decimal("0.01")):
            raise ValidationError({"canary": [CANARY_PERCENT]})
        fields["canary_percent"] = value
    hold = canary.get("hold_seconds", conf("BROADCAST_CANARY_HOLD_SECONDS"))
    if not _is_int(hold) or not (0 <= hold <= MAX_HOLD_SECONDS):
        raise ValidationError({"canary": [CANARY_HOLD]})
    fields["canary_hold_seconds"] = hold
    return fields


def failure_threshold_clean(value: Any) -> float | None:
    """A per-broadcast failure threshold, or None for the setting's. Raises ValidationError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationError({"failure_threshold": [THRESHOLD_INVALID]})
    number = float(value)
    if not math.isfinite(number) or not (0 < number <= 1):
        raise ValidationError({"failure_threshold": [THRESHOLD_INVALID]})
    return number


def threshold_of(broadcast: Broadcast) -> float:
    value = broadcast.failure_threshold
    return float(value if value is not None else conf("BROADCAST_FAILURE_THRESHOLD"))


# --- canary -------------------------------------------------------------------------------------


def canary_begin(broadcast: Broadcast) -> None:
    """At start, after the snapshot (not saved here): fixes the canary's id range and phase.

    The end is looked up rather than computed, so ids of a concurrent snapshot in between
    cannot shrink the canary. A canary as large as the audience is no canary.
    """
    broadcast.breaker_from_id = broadcast.first_delivery_id
    broadcast.phase, broadcast.phase_until, broadcast.canary_end_id = Phase.NONE, None, None
    size = selectors.broadcast_canary_size(broadcast, broadcast.total)
    if not size or size >= broadcast.total:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {DELIVERY} WHERE broadcast_id = %s AND id >= %s ORDER BY id OFFSET %s LIMIT 1",  # noqa: S608
            [broadcast.pk, broadcast.first_delivery_id, size],
        )
        row = cursor.fetchone()
    if row is not None:
        broadcast.canary_end_id = row[0]
        broadcast.phase = Phase.CANARY


def dispatch_end(broadcast: Broadcast) -> int:
    """The first delivery id dispatch may not hand out yet: the canary's end while it runs."""
    end = (broadcast.last_delivery_id or 0) + 1
    if broadcast.phase in (Phase.CANARY, Phase.CANARY_HOLD) and broadcast.canary_end_id:
        return min(end, broadcast.canary_end_id)
    return end


def canary_progress(*, broadcast_id: int) -> bool:
    """Canary → hold once none of its recipients is queued or sending; True when it moved.

    One conditional UPDATE (idempotent: only from phase `canary`). Called after each chunk
    of a canary and by the sweeper.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {BROADCAST} b SET phase = %s,
                    phase_until = now() + b.canary_hold_seconds * interval '1 second', updated_at = now()
                WHERE b.id = %s AND b.phase = %s AND b.status IN ('running', 'paused')
                  AND NOT EXISTS (SELECT 1 FROM {DELIVERY} d WHERE d.broadcast_id = b.id
                                  AND d.id >= b.first_delivery_id AND d.id < b.canary_end_id
                                  AND d.status IN ({QUEUED}, {SENDING}))""",  # noqa: S608
            [Phase.CANARY_HOLD, broadcast_id, Phase.CANARY],
        )
        return cursor.rowcount > 0


@transaction.atomic
def canary_judge(*, broadcast_id: int, now: datetime | None = None) -> str | None:
    """After the hold: the rest goes out ("passed") or the broadcast pauses ("failed").

    None when there is nothing to judge (not holding, or the hold has not passed).
    """
    from inbox import tasks
    from inbox.services.broadcasts import conf as engine_conf

    now = now or timezone.now()
    broadcast = Broadcast.objects.select_for_update().filter(pk=broadcast_id).first()
    if (
        broadcast is None
        or broadcast.status != Broadcast.Status.RUNNING
        or broadcast.phase != Phase.CANARY_HOLD
        or (broadcast.phase_until is not None and broadcast.phase_until > now)
    ):
        return None
    sample = sample_read(broadcast_id=broadcast.pk, lo=broadcast.first_delivery_id or 0,
                         hi=broadcast.canary_end_id or 0, limit=None)  # fmt: skip
    threshold = threshold_of(broadcast)
    broadcast.phase, broadcast.phase_until = Phase.NONE, None
    if sample.finished and sample.failed > threshold * sample.finished:
        broadcast.status = Broadcast.Status.PAUSED
        broadcast.paused_code = Code.CANARY
        broadcast.paused_reason = (
            f"Canary: {sample.failed} of {sample.finished} messages failed ({sample.rate_text()}, threshold "
            f"{_percent(threshold)}){sample.top_code_text()}. Resume to send to the other "
            f"{broadcast.remaining} recipients, or cancel."
        )[:255]
        broadcast.save(update_fields=["status", "paused_code", "paused_reason", "phase", "phase_until", "updated_at"])
        logger.warning("broadcast %s paused after its canary: %s", broadcast.pk, broadcast.paused_reason)
        return "failed"
    broadcast.breaker_from_id = broadcast.canary_end_id
    broadcast.heartbeat_at = now
    broadcast.save(update_fields=["phase", "phase_until", "breaker_from_id", "heartbeat_at", "updated_at"])
    tasks.broadcast_dispatch_task.delay_on_commit(broadcast.pk, engine_conf("BROADCAST_WINDOW"))
    return "passed"


# --- the breaker's sample --------------------------------------------------------------------------


@dataclass
class Sample:
    finished: int = 0
    failed: int = 0
    codes: dict[int, int] = field(default_factory=dict)  # failed deliveries per error code

    def rate_text(self) -> str:
        return _percent(self.failed / self.finished) if self.finished else "0 %"

    def top_code(self) -> int | None:
        return max(self.codes, key=lambda c: self.codes[c]) if self.codes else None

    def top_code_text(self) -> str:
        code = self.top_code()
        if code is None:
            return ""
        return f"; most frequent error {code} ({_title(code)}, {self.codes[code]}x)"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.1f}".rstrip("0").rstrip(".") + " %"


def _title(code: int) -> str:
    return ERROR_EXPLANATIONS.get(code, ("Provider error", ""))[0]


def sample_read(*, broadcast_id: int, lo: int, hi: int, limit: int | None) -> Sample:
    """Finished deliveries with ids in [lo, hi), newest first, at most `limit`.

    A delivery counts as failed when it failed to send or when its message was reported
    `failed` later by a status webhook (the message's error code then counts).
    """
    limit_sql = "LIMIT %s" if limit else ""
    params: list[Any] = [broadcast_id, lo, hi, *([limit] if limit else [])]
    sql = f"""
        WITH s AS (
          SELECT d.status, d.error_code, d.message_id FROM {DELIVERY} d
          WHERE d.broadcast_id = %s AND d.id >= %s AND d.id < %s AND d.status IN ({SENT}, {FAILED})
          ORDER BY d.id DESC {limit_sql}
        )
        SELECT CASE WHEN s.status = {FAILED} THEN s.error_code WHEN m.status = 'failed' THEN m.error_code END,
               count(*), count(*) FILTER (WHERE s.status = {FAILED} OR m.status = 'failed')
        FROM s LEFT JOIN {MESSAGE} m ON m.id = s.message_id AND s.status = {SENT}
        GROUP BY 1
    """  # noqa: S608 - table names and constants only
    sample = Sample()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for code, n, failed in cursor.fetchall():
            sample.finished += n
            sample.failed += failed
            if code is not None and failed:
                sample.codes[int(code)] = sample.codes.get(int(code), 0) + failed
    return sample


def verdict(*, broadcast: Broadcast) -> tuple[str, str] | None:
    """(paused code, reason) when the broadcast's recent sample says stop, else None."""
    lo = broadcast.breaker_from_id or broadcast.first_delivery_id or 0
    hi = broadcast.dispatch_cursor or ((broadcast.last_delivery_id or 0) + 1)
    sample = sample_read(broadcast_id=broadcast.pk, lo=lo, hi=hi, limit=int(conf("BROADCAST_BREAKER_SAMPLE")))
    burst = int(conf("BROADCAST_BREAKER_BURST"))
    for code, n in sorted(sample.codes.items(), key=lambda item: -item[1]):
        if code in BURST_CODES and n >= burst:
            return Code.ERROR_BURST, (
                f"Paused by the circuit breaker: {n} of the last {sample.finished} messages failed with error "
                f"{code} ({_title(code)}). Check the audience and the template, then resume."
            )[:255]
    threshold = threshold_of(broadcast)
    if sample.finished >= int(conf("BROADCAST_BREAKER_MIN_SAMPLE")) and sample.failed > threshold * sample.finished:
        return Code.FAILURE_RATE, (
            f"Paused by the circuit breaker: {sample.failed} of the last {sample.finished} messages failed "
            f"({sample.rate_text()}, threshold {_percent(threshold)}){sample.top_code_text()}."
        )[:255]
    return None


def trip(*, broadcast_id: int, code: str, reason: str) -> bool:
    """Running → paused with the breaker's code and reason (a conditional UPDATE); True when it paused."""
    done = Broadcast.objects.filter(pk=broadcast_id, status=Broadcast.Status.RUNNING).update(
        status=Broadcast.Status.PAUSED, paused_code=code, paused_reason=reason[:255], updated_at=timezone.now()
    )
    if done:
        logger.warning("broadcast %s paused (%s): %s", broadcast_id, code, reason)
    return bool(done)


def check(*, broadcast_id: int) -> bool:
    """Reads the sample of a running broadcast and pauses it when it says so; True when it paused.

    Call inside a flush's transaction or alone (the sweeper); `trip` is a conditional UPDATE.
    """
    broadcast = Broadcast.objects.filter(pk=broadcast_id, status=Broadcast.Status.RUNNING).first()
    if broadcast is None:
        return False
    found = verdict(broadcast=broadcast)
    return trip(broadcast_id=broadcast_id, code=found[0], reason=found[1]) if found else False


def throttle_track(*, broadcast_id: int, sent: int, throttled: int, now: datetime, since: datetime | None) -> bool:
    """Follows how long every answer has been a rate-limit refusal; pauses when too long.

    Call in the flush's transaction with `since`, the broadcast's `throttled_since` as the
    flush read it (a stale value costs one redundant write: the start of the clock is a
    COALESCE in one UPDATE). A batch with a success clears the clock (no write when it is not
    running); a batch of only refusals starts it, or pauses once it has run long enough.
    True when it paused.
    """
    if sent:
        if since is not None:
            Broadcast.objects.filter(pk=broadcast_id).update(throttled_since=None)
        return False
    if not throttled:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {BROADCAST} SET throttled_since = COALESCE(throttled_since, %s) WHERE id = %s "  # noqa: S608
            "RETURNING throttled_since",
            [now, broadcast_id],
        )
        row = cursor.fetchone()
    limit = float(conf("BROADCAST_BREAKER_THROTTLE_SECONDS"))
    if row is None or (now - row[0]).total_seconds() < limit:
        return False
    return trip(
        broadcast_id=broadcast_id,
        code=Code.THROTTLED,
        reason=(
            f"Paused by the circuit breaker: for {int(limit)} s the provider refused every send with rate-limit "
            "errors (130429/131056). The number's throughput tier may be below the configured rate."
        ),
    )


def stop_code_reason(code: int | None, title: str) -> tuple[str, str]:
    """(paused code, reason) for an account or template error that stops the whole broadcast."""
    if code in TEMPLATE_CODES:
        return Code.TEMPLATE, (
            f"The provider refused the template with error {code} ({_title(code)}); "
            "resume once the template is approved again."
        )
    return Code.PROVIDER_STOP, f"Provider error {code}: {title or _title(code or 0)}"


# --- template state (webhooks) -------------------------------------------------------------------


def broadcasts_pause_for_template(*, template: Template, event: str) -> int:
    """Pauses the template's running broadcasts (it was paused or disabled); returns how many.

    Their chunks stop within one batch (each flush re-reads the status).
    """
    reason = (
        f"The template {template.name} ({template.language}) was {event.lower().replace('_', ' ')} by the provider; "
        "resume once it is approved again."
    )[:255]
    now = timezone.now()
    paused = Broadcast.objects.filter(template=template, status=Broadcast.Status.RUNNING).update(
        status=Broadcast.Status.PAUSED, paused_code=Code.TEMPLATE, paused_reason=reason, updated_at=now
    )
    if paused:
        logger.warning("%d broadcast(s) of template %s/%s paused: %s", paused, template.name, template.language, event)
    return paused


def hold_passed_ids(*, now: datetime) -> list[int]:
    return list(
        Broadcast.objects.filter(
            status=Broadcast.Status.RUNNING, phase=Phase.CANARY_HOLD, phase_until__lte=now
        ).values_list("pk", flat=True)
    )


def in_canary_ids() -> list[int]:
    return list(
        Broadcast.objects.filter(
            status__in=[Broadcast.Status.RUNNING, Broadcast.Status.PAUSED], phase=Phase.CANARY
        ).values_list("pk", flat=True)
    )
