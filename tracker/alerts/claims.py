"""Claiming work: a delivery or digest is sent only by whoever moved it to "sending".

Every claim is a conditional UPDATE (due, and pending or retrying), atomic on its own, so two
workers given the same ids cannot both claim one. The time of the claim is kept on the row:
results are recorded only while that claim still holds it (tracker.alerts.recording), and a
claim older than ``claim_timeout()`` belongs to a worker that died or hung, which the sweep
takes back (``recording.stale_claims_reclaim``).

Webhook deliveries are claimed under two rules that hold across threads and worker
processes because the database enforces them: at most ``ALERTS_ENDPOINT_CONCURRENCY``
deliveries of one endpoint are "sending" at once, and none of an endpoint whose circuit
breaker has paused it (tracker.alerts.health).
"""

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Q, Value, When

from tracker.models import Event, WebhookEndpoint
from tracker.models.alerts import (
    TEST_EVENT_TYPE,
    Channel,
    Delivery,
    DeliveryStatus,
    Digest,
    DigestStatus,
)

from . import bulk


def claim_timeout() -> datetime.timedelta:
    """How long a live worker may hold a claim: two sends (see tracker.alerts.sending) and a
    margin."""
    send = max(settings.WEBHOOK_TOTAL_TIMEOUT, settings.EMAIL_TOTAL_TIMEOUT)
    return datetime.timedelta(seconds=send * 2 + settings.ALERTS_RECLAIM_MARGIN)


@dataclass
class DeliveryClaim:
    # Claimed, with event and endpoint loaded (and owner and subscription for email and chat).
    deliveries: list[Delivery] = field(default_factory=list)
    # Claimed but no longer wanted (subscription off, endpoint disabled): cancelled.
    cancelled: int = 0
    # (id, endpoint id) of due deliveries left unclaimed because their endpoint already has
    # ALERTS_ENDPOINT_CONCURRENCY in flight.
    deferred: list[tuple[int, int]] = field(default_factory=list)


def deliveries_claim(
    *, ids: list[int], now: datetime.datetime, events: dict[int, Event]
) -> DeliveryClaim:
    """Claim the due ones among ``ids`` and load them. Deliveries whose subscription was
    turned off, whose endpoint was disabled or whose owner was deactivated are cancelled
    instead, with the reason; those of a paused
    endpoint are made due when its pause ends; those of an endpoint at its concurrency are
    left as they are (``deferred``). ``events`` caches the events loaded (a fan-out is many
    deliveries of one event)."""
    with transaction.atomic():
        chosen, deferred = _within_endpoint_limits(ids, now)
        claimed = _claim_ids(chosen, now) if chosen else []
    if not claimed:
        return DeliveryClaim(deferred=deferred)
    rows = _claimed_load(claimed)
    reasons = {d.pk: d.unwanted_because for d in rows if d.unwanted_because}
    for reason in set(reasons.values()):
        Delivery.objects.filter(pk__in=[pk for pk, r in reasons.items() if r == reason]).update(
            status=DeliveryStatus.CANCELLED,
            completed_at=now,
            next_attempt_at=None,
            claimed_at=None,
            cancelled_reason=reason,
        )
    missing = {d.event_id for d in rows if d.event_id and d.event_id not in events}
    if missing:
        events.update(Event.objects.in_bulk(missing))
    deliveries = []
    for delivery in rows:
        if delivery.pk not in reasons:
            delivery.event = events.get(delivery.event_id)
            deliveries.append(delivery)
    return DeliveryClaim(deliveries=deliveries, cancelled=len(reasons), deferred=deferred)


def _within_endpoint_limits(
    ids: list[int], now: datetime.datetime
) -> tuple[list[int], list[tuple[int, int]]]:
    """The due ones among ``ids`` that may be claimed now, and the deferred ones.

    The endpoints' rows stay locked until the claim commits, so two claimers cannot both
    count the same free place: the second counts again once the first's claims are visible.
    """
    # Plain SQL where the ORM's building of the query cost more than running it (a
    # fan-out claims in batches of a hundred, ten times a thousand deliveries).
    candidates = bulk.rows_by_ids(
        f"SELECT id, endpoint_id, event_type FROM {Delivery._meta.db_table} "
        f"WHERE id IN ({{ids}}) AND {_DUE} ORDER BY id",
        ids,
        _due_params(now),
    )
    endpoint_ids = sorted({endpoint_id for _, endpoint_id, _ in candidates if endpoint_id})
    if not endpoint_ids:
        return [pk for pk, _, _ in candidates], []
    paused_until = dict(
        WebhookEndpoint.objects.select_for_update()
        .filter(pk__in=endpoint_ids)
        .order_by("pk")  # one locking order for every claimer: no deadlock
        .values_list("pk", "paused_until")
    )
    in_flight = Counter(
        dict(
            bulk.rows_by_ids(
                f"SELECT endpoint_id, COUNT(*) FROM {Delivery._meta.db_table} "
                "WHERE endpoint_id IN ({ids}) AND status = %s GROUP BY endpoint_id",
                endpoint_ids,
                [DeliveryStatus.SENDING],
            )
        )
    )
    limit = settings.ALERTS_ENDPOINT_CONCURRENCY
    chosen, deferred, paused = [], [], defaultdict(list)
    for pk, endpoint_id, event_type in candidates:
        if endpoint_id is None:
            chosen.append(pk)
        elif (paused_until.get(endpoint_id) or now) > now and event_type != TEST_EVENT_TYPE:
            # (An owner's test send goes through: it tells whether the endpoint is back, and
            # its success closes the breaker.)
            paused[paused_until[endpoint_id]].append(pk)
        elif in_flight[endpoint_id] >= limit:
            deferred.append((pk, endpoint_id))
        else:
            in_flight[endpoint_id] += 1
            chosen.append(pk)
    for until, pks in paused.items():
        # Not due before the pause ends: neither the sweep nor a sender picks them up sooner.
        Delivery.objects.filter(pk__in=pks).update(next_attempt_at=until)
    return chosen, deferred


def _claim_ids(ids: list[int], now: datetime.datetime) -> list[tuple[int, str]]:
    """Claim the due ones among ``ids``; (id, channel) of each claimed."""
    # One conditional UPDATE ... RETURNING (PostgreSQL, and SQLite from 3.35 for the demo).
    return bulk.rows_by_ids(
        f"UPDATE {Delivery._meta.db_table} SET status = %s, claimed_at = %s "
        f"WHERE id IN ({{ids}}) AND {_DUE} RETURNING id, channel",
        ids,
        _due_params(now),
        before=(DeliveryStatus.SENDING, bulk.db_datetime(now)),
    )


# Due: waiting to be sent, and its next attempt time (if any) reached.
_DUE = "status IN (%s, %s) AND (next_attempt_at IS NULL OR next_attempt_at <= %s)"


def _due_params(now: datetime.datetime) -> list:
    return [DeliveryStatus.PENDING, DeliveryStatus.RETRYING, bulk.db_datetime(now)]


# Why a claimed delivery must not be sent after all ("" when it may), worked out by the
# database as the claimed rows are loaded.
_UNWANTED_BECAUSE = Case(
    When(owner__is_active=False, then=Value("Its owner's account was deactivated.")),
    When(subscription__active=False, then=Value("Its subscription was turned off.")),
    When(endpoint__enabled=False, then=Value("Its webhook endpoint was disabled.")),
    default=Value(""),
)


def _claimed_load(claimed: list[tuple[int, str]]) -> list[Delivery]:
    """The claimed deliveries with what their messages need, and ``unwanted_because``.

    A webhook needs only its endpoint, and of the two rows only the columns below; an email
    or chat message also names its owner (address, time zone) and subscription (unsubscribe
    link). Loading all of that for every webhook (four model instances more per delivery,
    and every timestamp column parsed) was most of a large fan-out's CPU in the worker.
    A column left out is still read if some code asks for it, one query per row: the
    creation time a test delivery's body names is the one case (one test send at a time).
    """
    webhook_ids = [pk for pk, channel in claimed if channel == Channel.WEBHOOK]
    other_ids = [pk for pk, channel in claimed if channel != Channel.WEBHOOK]
    loaded = Delivery.objects.annotate(unwanted_because=_UNWANTED_BECAUSE)
    rows = []
    if webhook_ids:
        rows += (
            loaded.filter(pk__in=webhook_ids).select_related("endpoint").only(*_WEBHOOK_SEND_READS)
        )
    if other_ids:
        rows += loaded.filter(pk__in=other_ids).select_related(
            "endpoint", "subscription", "owner", "owner__tracker_profile"
        )
    return rows


# What sending a webhook and recording its result read (tracker.alerts.sending, recording
# and health).
_WEBHOOK_SEND_READS = (
    "event_id",
    "subscription_id",
    "owner_id",
    "channel",
    "endpoint_id",
    "event_type",
    "status",
    "message_id",
    "attempt_count",
    "claimed_at",
    "endpoint__owner_id",
    "endpoint__channel",
    "endpoint__url",
    "endpoint__secret",
    "endpoint__previous_secret",
    "endpoint__previous_secret_expires_at",
    "endpoint__enabled",
    "endpoint__failing_since",
    "endpoint__consecutive_failures",
)


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
    subscription, owner and endpoint (for chat) loaded, or None."""
    claimed = Digest.objects.filter(
        pk=digest_id, status=DigestStatus.PENDING, next_attempt_at__lte=now
    ).update(status=DigestStatus.SENDING, claimed_at=now)
    if claimed != 1:
        return None
    return Digest.objects.select_related(
        "subscription",
        "subscription__owner",
        "subscription__owner__tracker_profile",
        "subscription__endpoint",
    ).get(pk=digest_id)
