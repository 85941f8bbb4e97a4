"""Daily and weekly digests: one email or chat message (Slack, Teams) per subscription and
period, grouped by process."""

import datetime
import zoneinfo

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from tracker.models import Subscription
from tracker.models.alerts import CHAT_CHANNELS, Cadence, Delivery, DeliveryStatus, Digest

from . import chat, claims, messages, recording, sending, transports


def digest_period(
    cadence: str, now: datetime.datetime, zone: datetime.tzinfo | None = None
) -> tuple[datetime.datetime, datetime.datetime]:
    """The last complete period before ``now``: yesterday, or the last week ending on
    ``ALERTS_DIGEST_WEEKDAY`` (the day the weekly digest goes out), in ``zone`` (the
    subscriber's; the site's time zone when None)."""
    zone = zone or timezone.get_default_timezone()
    today = timezone.localtime(now, zone).date()
    if cadence == Cadence.DAILY:
        start_day, length = today - datetime.timedelta(days=1), 1
    elif cadence == Cadence.WEEKLY:
        since_end = (today.weekday() - settings.ALERTS_DIGEST_WEEKDAY) % 7
        end_day = today - datetime.timedelta(days=since_end)
        start_day, length = end_day - datetime.timedelta(days=7), 7
    else:
        raise ValueError(f"No digest for cadence {cadence!r}.")
    start = timezone.make_aware(datetime.datetime.combine(start_day, datetime.time.min), zone)
    # Wall-clock arithmetic on an aware datetime: the end is local midnight across a DST
    # change too.
    return start, start + datetime.timedelta(days=length)


def digest_due(cadence: str, now: datetime.datetime, zone: datetime.tzinfo) -> bool:
    """Whether ``now`` is the hour a digest of ``cadence`` goes out in ``zone``:
    ``ALERTS_DIGEST_HOUR``, and for weekly digests on ``ALERTS_DIGEST_WEEKDAY``."""
    local = timezone.localtime(now, zone)
    return local.hour == settings.ALERTS_DIGEST_HOUR and (
        cadence == Cadence.DAILY or local.weekday() == settings.ALERTS_DIGEST_WEEKDAY
    )


def digests_build(
    *, cadence: str, now: datetime.datetime | None = None, at_digest_hour: bool = False
) -> list[int]:
    """Create the digests of the last complete period, in each subscriber's own time zone,
    and return their ids.

    With ``at_digest_hour`` (the hourly beat task), only subscribers for whom it is now the
    digest hour get theirs; a beat missed meanwhile loses nothing, as the held deliveries
    join the next period's digest. Each digest takes the subscription's held deliveries
    created before the period's end (a late one from an earlier period joins the next
    digest). A subscription with nothing held gets no digest. Safe to run twice: the digest
    is unique per subscription, cadence and period, so the second run creates nothing.
    """
    now = now or timezone.now()
    candidates = Subscription.objects.filter(cadence=cadence, active=True, owner__is_active=True)
    # Subscribers grouped by effective zone: no profile or a blank zone is the site's.
    by_zone: dict[str, Q] = {}
    chosen = candidates.values_list("owner__tracker_profile__time_zone", flat=True).distinct()
    for raw in chosen:
        name = raw or settings.TIME_ZONE
        match = (
            Q(owner__tracker_profile__time_zone=raw)
            if raw
            else Q(owner__tracker_profile__isnull=True) | Q(owner__tracker_profile__time_zone="")
        )
        by_zone[name] = by_zone[name] | match if name in by_zone else match
    created_ids = []
    for name, match in sorted(by_zone.items()):
        zone = zoneinfo.ZoneInfo(name)
        if at_digest_hour and not digest_due(cadence, now, zone):
            continue
        start, end = digest_period(cadence, now, zone)
        for subscription in candidates.filter(match).filter(Exists(_held(OuterRef("pk"), end))):
            with transaction.atomic():
                digest, created = Digest.objects.get_or_create(
                    subscription=subscription,
                    cadence=cadence,
                    period_start=start,
                    defaults={"period_end": end, "next_attempt_at": timezone.now()},
                )
                if not created:
                    continue
                _held(subscription, end).update(digest=digest)
            created_ids.append(digest.pk)
    return created_ids


def _held(subscription, end: datetime.datetime):
    """A subscription's held deliveries not in a digest yet, created before ``end``."""
    return Delivery.objects.filter(
        subscription=subscription,
        status=DeliveryStatus.HELD,
        digest__isnull=True,
        created_at__lt=end,
    )


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
        body = chat.chat_digest_body(digest, deliveries)
        return [transports.chat_send(transports.ChatMessage(url=endpoint.url, body=body))]

    [outcome] = sending.send_safely(send, what=f"digest {digest_id}")
    recorded = recording.digest_record(
        digest=digest, deliveries=deliveries, outcome=outcome, endpoint=endpoint
    )
    return recorded and outcome.succeeded
