"""The periodic sweep: the database is the source of truth, the broker only a doorbell.

Whatever the doorbell missed (broker down at commit, worker killed mid-send) is found here
by looking at the rows, and queued again; the claims make a repeat harmless.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from tracker.models import Event
from tracker.models.alerts import Delivery, DeliveryStatus, Digest, DigestStatus
from tracker.services.events import events_sequence_stamp

from . import queue, recording

# Bounds on one sweep's work, so a backlog is worked off over several sweeps.
_MAX_EVENTS = 500
_MAX_DELIVERIES = 2000
_MAX_DIGESTS = 100
_BATCH = 100


@dataclass
class SweepReport:
    reclaimed: int = 0
    events: int = 0
    deliveries: int = 0
    digests: int = 0


def requeue_grace() -> datetime.timedelta:
    """How long work that was queued once is left to that message before the sweep queues
    it again: long enough that a backlog in the queue is not queued over and over, short
    enough that a lost doorbell is recovered within about half a minute."""
    return datetime.timedelta(seconds=settings.ALERTS_SWEEP_REQUEUE_GRACE)


# What this process's sweeps queued, and when: a backlog stays in the queue for a while,
# and queueing it again on every sweep (every few seconds) would only grow it.
_queued: dict[tuple, datetime.datetime] = {}


def _not_queued_lately(keys: list[tuple], now: datetime.datetime) -> set[tuple]:
    grace = requeue_grace()
    for key, at in list(_queued.items()):
        if now - at >= grace or at > now:  # (or the clock went back)
            del _queued[key]
    fresh = {key for key in keys if key not in _queued}
    _queued.update(dict.fromkeys(fresh, now))
    return fresh


def alerts_sweep() -> SweepReport:
    """Reclaim stale claims, then queue undispatched events and due deliveries and digests.

    Events and never-attempted deliveries had a doorbell when they were committed: they are
    left to it for ``requeue_grace()``. Retries have no doorbell and are queued as soon as
    they are due. Whatever a sweep queued is not queued again by this process for another
    ``requeue_grace()``. Running it twice queues the same ids at most twice, which the
    claims turn into one send.
    """
    # Events whose dispatch has not run yet still get their place in the feed.
    events_sequence_stamp()
    now = timezone.now()
    report = SweepReport()
    report.reclaimed = recording.stale_claims_reclaim(now=now)

    settled = now - requeue_grace()
    event_ids = list(
        Event.objects.filter(dispatched_at__isnull=True, occurred_at__lte=settled)
        .order_by("id")
        .values_list("pk", flat=True)[:_MAX_EVENTS]
    )
    fresh = _not_queued_lately([("event", pk) for pk in event_ids], now)
    event_ids = [pk for pk in event_ids if ("event", pk) in fresh]
    for event_id in event_ids:
        queue.event_dispatch_enqueue(event_id)
    report.events = len(event_ids)

    due = Q(attempt_count=0, next_attempt_at__lte=settled) | Q(
        attempt_count__gt=0, next_attempt_at__lte=now
    )
    due_rows = list(
        Delivery.objects.filter(due, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
        .order_by("next_attempt_at", "id")
        .values_list("pk", "attempt_count")[:_MAX_DELIVERIES]
    )
    # Keyed on the attempt too: a delivery's next retry is new work.
    fresh = _not_queued_lately([("delivery", *row) for row in due_rows], now)
    delivery_ids = [pk for pk, attempts in due_rows if ("delivery", pk, attempts) in fresh]
    for start in range(0, len(delivery_ids), _BATCH):
        queue.deliveries_send_enqueue(delivery_ids[start : start + _BATCH])
    report.deliveries = len(delivery_ids)

    # A new digest is sent by the task that built it: left to it like doorbell work.
    due_rows = list(
        Digest.objects.filter(due, status=DigestStatus.PENDING)
        .order_by("next_attempt_at", "id")
        .values_list("pk", "attempt_count")[:_MAX_DIGESTS]
    )
    fresh = _not_queued_lately([("digest", *row) for row in due_rows], now)
    digest_ids = [pk for pk, attempts in due_rows if ("digest", pk, attempts) in fresh]
    for digest_id in digest_ids:
        queue.digest_send_enqueue(digest_id)
    report.digests = len(digest_ids)
    return report
