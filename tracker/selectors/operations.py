"""Reads for operations: what /readyz and /metrics report, straight from the database, so
every web process answers with the same figures whichever worker did the work."""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Min, Q, Sum

from tracker.models import Event, TaskRun
from tracker.models.alerts import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Digest,
    DigestStatus,
    WebhookEndpoint,
)
from tracker.models.sources import EdgarSync, EdgarSyncStatus

# The periodic work whose runs are counted (tracker.tasks); listed so that a task that has
# never run still reports 0 rather than no series at all.
COUNTED_TASKS = ("alerts_sweep", "reminders_scan", "edgar_sync", "edgar_feed_poll")
# The sweep is queued by beat every few seconds: its last run is beat's (and a worker's)
# heartbeat.
BEAT_HEARTBEAT_TASK = "alerts_sweep"
_WAITING = [DeliveryStatus.PENDING, DeliveryStatus.RETRYING]


def age_seconds(since: datetime.datetime | None, now: datetime.datetime) -> float | None:
    """Seconds from ``since`` to ``now`` (never negative), or None when there is no
    ``since``: what /readyz and /metrics report of the oldest waiting work."""
    return None if since is None else max((now - since).total_seconds(), 0.0)


@dataclass(frozen=True)
class EventBacklog:
    count: int
    oldest_at: datetime.datetime | None


def task_run_list() -> list[TaskRun]:
    """Every counted kind of periodic work, with zero figures for any that never ran."""
    runs = {run.name: run for run in TaskRun.objects.all()}
    return [runs.get(name) or TaskRun(name=name) for name in sorted({*COUNTED_TASKS, *runs})]


def beat_last_run_at() -> datetime.datetime | None:
    """When the periodic sweep last ran, whichever worker ran it."""
    return (
        TaskRun.objects.filter(name=BEAT_HEARTBEAT_TASK)
        .values_list("last_run_at", flat=True)
        .first()
    )


def event_backlog() -> EventBacklog:
    """Events not dispatched yet and when the oldest happened (the partial index
    ``event_undispatched_idx`` holds exactly these)."""
    figures = Event.objects.filter(dispatched_at__isnull=True).aggregate(
        count=Count("id"), oldest_at=Min("occurred_at")
    )
    return EventBacklog(**figures)


def overdue_delivery_due_at(*, now: datetime.datetime) -> datetime.datetime | None:
    """When the longest-overdue delivery was due: one pending or retrying whose attempt time
    has passed and that nobody has taken (a paused endpoint's wait until the pause ends)."""
    return (
        Delivery.objects.filter(status__in=_WAITING, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


def delivery_count_by_status_and_channel() -> dict[tuple[str, str], int]:
    """Deliveries kept (see retention) by status and channel."""
    return {
        (row["status"], row["channel"]): row["n"]
        for row in Delivery.objects.order_by().values("status", "channel").annotate(n=Count("id"))
    }


def attempt_duration_buckets(
    *, since: datetime.datetime, bounds_ms: tuple[int, ...]
) -> dict[str, dict]:
    """Per channel, the attempts made since ``since``: how many took at most each bound (in
    milliseconds, cumulative), how many in all and their total milliseconds."""
    aggregates = {
        f"le_{bound}": Count("id", filter=Q(duration_ms__lte=bound)) for bound in bounds_ms
    }
    rows = (
        DeliveryAttempt.objects.filter(attempted_at__gte=since)
        .order_by()
        .values("delivery__channel")
        .annotate(count=Count("id"), sum_ms=Sum("duration_ms"), **aggregates)
    )
    return {
        row["delivery__channel"]: {
            "buckets": [(bound, row[f"le_{bound}"]) for bound in bounds_ms],
            "count": row["count"],
            "sum_ms": row["sum_ms"] or 0,
        }
        for row in rows
    }


def endpoint_health_counts() -> dict[str, int]:
    """Webhook endpoints failing (enabled, on a failure streak) and disabled."""
    return WebhookEndpoint.objects.aggregate(
        failing=Count("id", filter=Q(enabled=True, failing_since__isnull=False)),
        disabled=Count("id", filter=Q(enabled=False)),
    )


def digest_pending_count() -> int:
    """Digests built and waiting to be sent (or retried)."""
    return Digest.objects.filter(status=DigestStatus.PENDING).count()


def edgar_failing_count() -> int:
    """Organizations whose last EDGAR sync failed."""
    return EdgarSync.objects.filter(status=EdgarSyncStatus.FAILED).count()
