"""Prometheus metrics, read from the database at scrape time.

Why from the database: the work is done by several worker processes (and hosts) and
scraped from any web process. Figures kept in process memory would differ per process, and
prometheus-client's multiprocess mode only adds up processes that share one directory on
one host (not a web container and a worker container). The database already holds every
figure: gauges are counted from the rows as they are; the run counters come from TaskRun,
whose rows are incremented by every worker and never pruned, so they only go up; and the
attempt-duration histogram is a gauge histogram over the attempts of the last
``METRICS_ATTEMPT_WINDOW_SECONDS`` (as a cumulative counter it would drop each time
retention prunes old attempts, which Prometheus would misread as a reset).
"""

import datetime

from django.conf import settings
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
)
from prometheus_client.registry import Collector

from tracker.models.alerts import Channel, DeliveryStatus
from tracker.selectors import operations

# Upper bounds of the attempt-duration buckets, in milliseconds (the webhook total timeout
# is 15 s by default).
DURATION_BOUNDS_MS = (50, 100, 250, 500, 1000, 2500, 5000, 10000, 15000, 30000)


def _age(since: datetime.datetime | None, now: datetime.datetime) -> float:
    return operations.age_seconds(since, now) or 0.0


class TrackerCollector(Collector):
    """Everything /metrics shows; a fixed number of queries per scrape."""

    def collect(self):
        now = timezone.now()
        yield self._deliveries()
        yield self._attempt_durations(now)
        backlog = operations.event_backlog()
        yield GaugeMetricFamily(
            "tracker_events_undispatched",
            "Events committed but not yet fanned out into deliveries.",
            value=backlog.count,
        )
        yield GaugeMetricFamily(
            "tracker_events_undispatched_oldest_age_seconds",
            "Age of the oldest undispatched event (0 when there is none).",
            value=_age(backlog.oldest_at, now),
        )
        yield GaugeMetricFamily(
            "tracker_deliveries_overdue_oldest_age_seconds",
            "How long the longest-overdue pending or retrying delivery has been due.",
            value=_age(operations.overdue_delivery_due_at(now=now), now),
        )
        endpoints = operations.endpoint_health_counts()
        yield GaugeMetricFamily(
            "tracker_webhook_endpoints_failing",
            "Enabled webhook endpoints on a failure streak.",
            value=endpoints["failing"],
        )
        yield GaugeMetricFamily(
            "tracker_webhook_endpoints_disabled",
            "Webhook endpoints disabled (410 Gone, failing too long, or by their owner).",
            value=endpoints["disabled"],
        )
        yield GaugeMetricFamily(
            "tracker_digests_pending",
            "Digest emails built and waiting to be sent.",
            value=operations.digest_pending_count(),
        )
        yield GaugeMetricFamily(
            "tracker_edgar_organizations_failing",
            "Organizations whose last EDGAR sync failed.",
            value=operations.edgar_failing_count(),
        )
        yield from self._task_runs()

    def _deliveries(self) -> GaugeMetricFamily:
        counts = operations.delivery_count_by_status_and_channel()
        family = GaugeMetricFamily(
            "tracker_deliveries",
            "Deliveries kept (see ALERTS_DELIVERY_RETENTION_DAYS), by status and channel.",
            labels=["status", "channel"],
        )
        for status in DeliveryStatus.values:
            for channel in Channel.values:
                family.add_metric([status, channel], counts.get((status, channel), 0))
        return family

    def _attempt_durations(self, now: datetime.datetime) -> GaugeHistogramMetricFamily:
        window = settings.METRICS_ATTEMPT_WINDOW_SECONDS
        by_channel = operations.attempt_duration_buckets(
            since=now - datetime.timedelta(seconds=window), bounds_ms=DURATION_BOUNDS_MS
        )
        family = GaugeHistogramMetricFamily(
            "tracker_delivery_attempt_duration_seconds",
            f"Durations of the delivery attempts of the last {window:g} seconds, by channel.",
            labels=["channel"],
        )
        for channel in Channel.values:
            figures = by_channel.get(channel, {"buckets": [], "count": 0, "sum_ms": 0})
            cumulative = dict(figures["buckets"])
            buckets = [
                (f"{bound / 1000:g}", cumulative.get(bound, 0)) for bound in DURATION_BOUNDS_MS
            ]
            buckets.append(("+Inf", figures["count"]))
            family.add_metric([channel], buckets, gsum_value=figures["sum_ms"] / 1000)
        return family

    def _task_runs(self):
        runs = CounterMetricFamily(
            "tracker_task_runs",
            "Runs of periodic work (sweep, reminders scan, EDGAR syncs and feed polls), "
            "counted by every worker.",
            labels=["task"],
        )
        failures = CounterMetricFamily(
            "tracker_task_failures", "Runs of periodic work that failed.", labels=["task"]
        )
        last_run = GaugeMetricFamily(
            "tracker_task_last_run_timestamp_seconds",
            "When the periodic work last ran (Unix time; 0 if never).",
            labels=["task"],
        )
        for run in operations.task_run_list():
            runs.add_metric([run.name], run.runs)
            failures.add_metric([run.name], run.failures)
            last_run.add_metric([run.name], run.last_run_at.timestamp() if run.last_run_at else 0)
        yield runs
        yield failures
        yield last_run
