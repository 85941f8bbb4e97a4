"""Daily and weekly digests: one email per subscription and period, grouped by process."""

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from tracker.models import Subscription
from tracker.models.alerts import (
    Cadence,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Digest,
    DigestStatus,
)

from . import messages, transports
from .sending import retry_delay, storable

logger = logging.getLogger(__name__)


def digest_period(
    cadence: str, now: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime]:
    """The last complete period before ``now``: yesterday, or the last week ending on
    ``ALERTS_DIGEST_WEEKDAY`` (the day the weekly digest goes out), in the site's time zone."""
    today = timezone.localtime(now).date()
    if cadence == Cadence.DAILY:
        start_day, length = today - datetime.timedelta(days=1), 1
    elif cadence == Cadence.WEEKLY:
        since_end = (today.weekday() - settings.ALERTS_DIGEST_WEEKDAY) % 7
        end_day = today - datetime.timedelta(days=since_end)
        start_day, length = end_day - datetime.timedelta(days=7), 7
    else:
        raise ValueError(f"No digest for cadence {cadence!r}.")
    start = timezone.make_aware(datetime.datetime.combine(start_day, datetime.time.min))
    return start, start + datetime.timedelta(days=length)


def digests_build(*, cadence: str, now: datetime.datetime | None = None) -> list[int]:
    """Create the digests of the last complete period and return their ids.

    Each takes the subscription's held deliveries created before the period's end (a late
    one from an earlier period joins the next digest). A subscription with nothing held
    gets no digest. Safe to run twice: the digest is unique per subscription, cadence and
    period, so the second run creates nothing.
    """
    now = now or timezone.now()
    start, end = digest_period(cadence, now)
    held = Delivery.objects.filter(
        subscription=OuterRef("pk"),
        status=DeliveryStatus.HELD,
        digest__isnull=True,
        created_at__lt=end,
    )
    subscriptions = Subscription.objects.filter(
        cadence=cadence, active=True, owner__is_active=True
    ).filter(Exists(held))
    created_ids = []
    for subscription in subscriptions:
        with transaction.atomic():
            digest, created = Digest.objects.get_or_create(
                subscription=subscription,
                cadence=cadence,
                period_start=start,
                defaults={"period_end": end, "next_attempt_at": timezone.now()},
            )
            if not created:
                continue
            Delivery.objects.filter(
                subscription=subscription,
                status=DeliveryStatus.HELD,
                digest__isnull=True,
                created_at__lt=end,
            ).update(digest=digest)
        created_ids.append(digest.pk)
    return created_ids


def digest_send(*, digest_id: int) -> bool:
    """Send one digest if it is due and nobody else is sending it; True when it was sent.

    Claimed with a conditional UPDATE (pending -> sending), so running it twice sends one
    email. A failed send is retried on the webhook retry schedule.
    """
    now = timezone.now()
    claimed = Digest.objects.filter(
        pk=digest_id, status=DigestStatus.PENDING, next_attempt_at__lte=now
    ).update(status=DigestStatus.SENDING, claimed_at=now)
    if claimed != 1:
        return False
    digest = Digest.objects.select_related("subscription", "subscription__owner").get(pk=digest_id)
    deliveries = list(
        digest.deliveries.filter(status=DeliveryStatus.HELD)
        .select_related("event")
        .order_by("event_id")
    )
    # Every result is written only while this claim still holds the digest: a worker that
    # took longer than claim_timeout() may have lost it to the sweep and a newer claim.
    mine = Digest.objects.filter(pk=digest_id, status=DigestStatus.SENDING, claimed_at=now)
    if not deliveries or not digest.subscription.active or not digest.subscription.owner.is_active:
        with transaction.atomic():
            if mine.update(
                status=DigestStatus.FAILED,
                claimed_at=None,
                error="Nothing to send, or unsubscribed.",
            ):
                Delivery.objects.filter(digest=digest, status=DeliveryStatus.HELD).update(
                    status=DeliveryStatus.CANCELLED, completed_at=now
                )
        return False
    try:
        outcome = transports.email_send(messages.email_for_digest(digest, deliveries))
    except Exception as error:
        # Like a delivery's (see sending._run): a failed attempt, not a digest left sending.
        logger.exception("Sending digest %s raised", digest_id)
        outcome = transports.Outcome(
            attempted_at=now,
            error=f"Sending failed: {error!r}",
            permanent=isinstance(error, ValueError),
        )
    attempt_count = digest.attempt_count + 1
    error = storable(outcome.error)
    delay = None if outcome.permanent else retry_delay(attempt_count)
    with transaction.atomic():
        if not mine.select_for_update().exists():
            logger.warning("Not recording digest %s: it was claimed again meanwhile", digest_id)
            return False
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(
                delivery=delivery,
                attempted_at=outcome.attempted_at,
                duration_ms=outcome.duration_ms,
                error=error,
                succeeded=outcome.succeeded,
            )
            for delivery in deliveries
        )
        if outcome.succeeded:
            mine.update(
                status=DigestStatus.SENT,
                attempt_count=attempt_count,
                sent_at=outcome.attempted_at,
                claimed_at=None,
                error="",
            )
            Delivery.objects.filter(
                pk__in=[d.pk for d in deliveries], status=DeliveryStatus.HELD
            ).update(status=DeliveryStatus.SUCCEEDED, attempt_count=1, completed_at=now)
        elif delay is None:
            mine.update(
                status=DigestStatus.FAILED,
                attempt_count=attempt_count,
                claimed_at=None,
                error=error,
            )
            Delivery.objects.filter(
                pk__in=[d.pk for d in deliveries], status=DeliveryStatus.HELD
            ).update(status=DeliveryStatus.FAILED, attempt_count=attempt_count, completed_at=now)
        else:
            mine.update(
                status=DigestStatus.PENDING,
                attempt_count=attempt_count,
                claimed_at=None,
                next_attempt_at=now + delay,
                error=error,
            )
    return outcome.succeeded
