"""Daily and weekly digests: one email or chat message (Slack, Teams) per subscription and
period, grouped by process."""

import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from tracker.models import Subscription
from tracker.models.alerts import CHAT_CHANNELS, Cadence, Delivery, DeliveryStatus, Digest

from . import chat, claims, messages, recording, sending, transports


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

    Claimed like a delivery (tracker.alerts.claims), so running it twice sends one message;
    a failed send is retried on the webhook retry schedule (tracker.alerts.recording). A
    chat digest goes to its subscription's endpoint: not while the endpoint's breaker holds
    it paused, and a 404 or 410 answer disables the endpoint like any delivery's.
    """
    digest = claims.digest_claim(digest_id=digest_id, now=timezone.now())
    if digest is None:
        return False
    deliveries = list(
        digest.deliveries.filter(status=DeliveryStatus.HELD)
        .select_related("event")
        .order_by("event_id")
    )
    subscription = digest.subscription
    if not deliveries or not subscription.active or not subscription.owner.is_active:
        recording.digest_cancel(digest=digest, reason="Nothing to send, or unsubscribed.")
        return False
    if subscription.channel not in CHAT_CHANNELS:
        [outcome] = sending.send_safely(
            lambda: transports.emails_send([messages.email_for_digest(digest, deliveries)]),
            what=f"digest {digest_id}",
        )
        return recording.digest_record(digest=digest, deliveries=deliveries, outcome=outcome) and (
            outcome.succeeded
        )
    endpoint = subscription.endpoint
    if not endpoint.enabled:
        recording.digest_cancel(digest=digest, reason="Its endpoint was disabled.")
        return False
    now = timezone.now()
    if endpoint.paused_until and endpoint.paused_until > now:
        # The endpoint's breaker is open (tracker.alerts.health): tried when it closes.
        recording.digest_release(digest=digest, until=endpoint.paused_until)
        return False

    def send() -> list[transports.Outcome]:
        body = chat.chat_digest_body(digest, deliveries, subscription.channel)
        return [transports.chat_send(transports.ChatMessage(url=endpoint.url, body=body))]

    [outcome] = sending.send_safely(send, what=f"digest {digest_id}")
    recorded = recording.digest_record(
        digest=digest, deliveries=deliveries, outcome=outcome, endpoint=endpoint
    )
    return recorded and outcome.succeeded
