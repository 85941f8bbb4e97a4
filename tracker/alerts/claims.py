"""Claiming work: a delivery or digest is sent only by whoever moved it to "sending".

Every claim is a conditional UPDATE (due, and pending or retrying), atomic on its own, so two
workers given the same ids cannot both claim one. The time of the claim is kept on the row:
results are recorded only while that claim still holds it (tracker.alerts.recording), and a
claim older than ``claim_timeout()`` belongs to a worker that died or hung, which the sweep
takes back (``stale_claims_reclaim``).
"""

import datetime
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Case, F, Q, Value, When

from tracker.models import Event
from tracker.models.alerts import Delivery, DeliveryStatus, Digest, DigestStatus


def claim_timeout() -> datetime.timedelta:
    """How long a live worker may hold a claim: two sends (see tracker.alerts.sending) and a
    margin."""
    return datetime.timedelta(
        seconds=settings.WEBHOOK_TOTAL_TIMEOUT * 2 + settings.ALERTS_RECLAIM_MARGIN
    )


@dataclass
class DeliveryClaim:
    # Claimed, with event, endpoint and subscription loaded.
    deliveries: list[Delivery] = field(default_factory=list)
    # Claimed but no longer wanted (subscription off, endpoint disabled): cancelled.
    cancelled: int = 0


def deliveries_claim(
    *, ids: list[int], now: datetime.datetime, events: dict[int, Event]
) -> DeliveryClaim:
    """Claim the due ones among ``ids`` and load them. Deliveries whose subscription was
    turned off or whose endpoint was disabled are cancelled instead. ``events`` caches the
    events loaded (a fan-out is many deliveries of one event)."""
    claimed_ids = _claim_ids(ids, now)
    if not claimed_ids:
        return DeliveryClaim()
    rows = list(
        Delivery.objects.filter(pk__in=claimed_ids).select_related("endpoint", "subscription")
    )
    cancelled = [d.pk for d in rows if not _still_wanted(d)]
    if cancelled:
        Delivery.objects.filter(pk__in=cancelled).update(
            status=DeliveryStatus.CANCELLED, completed_at=now, next_attempt_at=None, claimed_at=None
        )
    missing = {d.event_id for d in rows if d.event_id and d.event_id not in events}
    if missing:
        events.update(Event.objects.in_bulk(missing))
    deliveries = []
    for delivery in rows:
        if delivery.pk not in cancelled:
            delivery.event = events.get(delivery.event_id)
            deliveries.append(delivery)
    return DeliveryClaim(deliveries=deliveries, cancelled=len(cancelled))


def _claim_ids(ids: list[int], now: datetime.datetime) -> list[int]:
    # One conditional UPDATE ... RETURNING (PostgreSQL, and SQLite from 3.35 for the demo).
    placeholders = ", ".join(["%s"] * len(ids))
    sql = (
        f"UPDATE {Delivery._meta.db_table} SET status = %s, claimed_at = %s "
        f"WHERE id IN ({placeholders}) AND status IN (%s, %s) "
        "AND (next_attempt_at IS NULL OR next_attempt_at <= %s) RETURNING id"
    )
    at = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [DeliveryStatus.SENDING, at, *ids, DeliveryStatus.PENDING, DeliveryStatus.RETRYING, at],
        )
        return [row[0] for row in cursor.fetchall()]


def _still_wanted(delivery: Delivery) -> bool:
    if delivery.subscription is not None and not delivery.subscription.active:
        return False
    return delivery.endpoint is None or delivery.endpoint.enabled


def deliveries_release(deliveries: list[Delivery]) -> None:
    """Hand claimed deliveries back unsent (pending again, or retrying if tried before)."""
    # Only this claim's rows: each is matched on the time it was claimed.
    held = Q()
    for delivery in deliveries:
        held |= Q(pk=delivery.pk, claimed_at=delivery.claimed_at)
    Delivery.objects.filter(held, status=DeliveryStatus.SENDING).update(
        status=Case(
            When(attempt_count=0, then=Value(DeliveryStatus.PENDING)),
            default=Value(DeliveryStatus.RETRYING),
        ),
        claimed_at=None,
    )


def digest_claim(*, digest_id: int, now: datetime.datetime) -> Digest | None:
    """Claim one digest if it is due and unclaimed (pending -> sending); the digest with its
    subscription and owner loaded, or None."""
    claimed = Digest.objects.filter(
        pk=digest_id, status=DigestStatus.PENDING, next_attempt_at__lte=now
    ).update(status=DigestStatus.SENDING, claimed_at=now)
    if claimed != 1:
        return None
    return Digest.objects.select_related("subscription", "subscription__owner").get(pk=digest_id)


def stale_claims_reclaim(*, now: datetime.datetime) -> int:
    """Take back the claims of workers that died or hung (older than ``claim_timeout()``);
    returns how many deliveries and digests were taken back."""
    stale = now - claim_timeout()
    reclaimed = Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=stale).update(
        status=DeliveryStatus.RETRYING, next_attempt_at=F("claimed_at"), claimed_at=None
    )
    reclaimed += Digest.objects.filter(status=DigestStatus.SENDING, claimed_at__lt=stale).update(
        status=DigestStatus.PENDING, claimed_at=None, next_attempt_at=now
    )
    return reclaimed
