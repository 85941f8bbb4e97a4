"""Retention: old deliveries and attempts are pruned; events are kept (they are the audit
log and the feed).

Each batch is one short transaction found through an index (``delivery_finished_idx``,
``attempt_attempted_at_idx``), so pruning months of history never scans the tables nor
holds locks for long. A delivery is old when it finished (succeeded, failed or cancelled)
more than ``ALERTS_DELIVERY_RETENTION_DAYS`` ago; one still pending, sending, retrying or
held for a digest is never pruned, whatever its age. Attempts older than the cutoff go
too, including those of a delivery redelivered since (its latest round stays).
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from tracker.models.alerts import FINISHED_STATUSES, Delivery, DeliveryAttempt

# Rows per batch: small enough that each transaction is short, large enough to make progress.
BATCH_SIZE = 1000


@dataclass
class PruneReport:
    deliveries: int = 0
    attempts: int = 0


def retention_cutoff(now: datetime.datetime) -> datetime.datetime:
    return now - datetime.timedelta(days=settings.ALERTS_DELIVERY_RETENTION_DAYS)


def prunable_deliveries(cutoff: datetime.datetime) -> QuerySet[Delivery]:
    """The ids of one batch of finished deliveries older than ``cutoff``, oldest first,
    locked (skipping any a redelivery holds) so none can start again while it is deleted."""
    return (
        Delivery.objects.filter(status__in=FINISHED_STATUSES, completed_at__lt=cutoff)
        .order_by("completed_at")
        .select_for_update(skip_locked=True)
        .values_list("pk", flat=True)[:BATCH_SIZE]
    )


def prunable_attempts(cutoff: datetime.datetime) -> QuerySet[DeliveryAttempt]:
    """The ids of one batch of attempts older than ``cutoff``, oldest first."""
    return (
        DeliveryAttempt.objects.filter(attempted_at__lt=cutoff)
        .order_by("attempted_at")
        .values_list("pk", flat=True)[:BATCH_SIZE]
    )


def deliveries_prune(*, now: datetime.datetime | None = None) -> PruneReport:
    """Delete finished deliveries (with their attempts) and attempts older than the
    retention period, batch by batch; returns how many of each went. Safe to run twice or
    at once: a second run finds nothing, two runs skip each other's locked rows."""
    cutoff = retention_cutoff(now or timezone.now())
    report = PruneReport()
    while True:
        with transaction.atomic():
            ids = list(prunable_deliveries(cutoff))
            if ids:
                _, deleted = Delivery.objects.filter(pk__in=ids).delete()  # attempts cascade
                report.attempts += deleted.get(DeliveryAttempt._meta.label, 0)
                report.deliveries += deleted.get(Delivery._meta.label, 0)
        if len(ids) < BATCH_SIZE:
            break
    while True:
        with transaction.atomic():
            ids = list(prunable_attempts(cutoff))
            if ids:
                report.attempts += DeliveryAttempt.objects.filter(pk__in=ids).delete()[0]
        if len(ids) < BATCH_SIZE:
            break
    return report
