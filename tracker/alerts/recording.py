"""Recording results: an attempt row for every try and the new state of what was tried.

A result is written only while the claim that sent it still holds the row (a claim older than
``claims.claim_timeout()`` may have been taken back by the sweep and claimed again, or the
delivery redelivered from the admin: a stale worker must not overwrite the newer state).
Recording never gives up: whatever cannot be written together is written one by one, and a
text the database refuses is replaced, as a delivery left "sending" would be sent again.
"""

import dataclasses
import datetime
import logging
import random
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tracker.models import WebhookEndpoint
from tracker.models.alerts import Delivery, DeliveryAttempt, DeliveryStatus, Digest, DigestStatus

from . import bulk, claims, health, http, transports

logger = logging.getLogger(__name__)


def retry_delay(attempts_made: int) -> datetime.timedelta | None:
    """How long to wait after ``attempts_made`` failed attempts; None when there are no
    retries left. Spread by ``WEBHOOK_RETRY_JITTER`` either way."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempts_made >= len(schedule):
        return None
    jitter = settings.WEBHOOK_RETRY_JITTER
    seconds = schedule[attempts_made] * (1 + random.uniform(-jitter, jitter))
    return datetime.timedelta(seconds=max(0.0, seconds))


def is_final(delivery: Delivery, outcome: transports.Outcome) -> bool:
    """Whether this failed outcome ends the delivery (no retry will follow)."""
    return outcome.permanent or retry_delay(delivery.attempt_count + 1) is None


def storable(text: str, limit: int | None = None) -> str:
    """``text`` as the database can store it: PostgreSQL refuses NUL characters in text."""
    text = text[:limit] if limit is not None else text
    return text.replace("\x00", "")


def deliveries_record(results: list[tuple[Delivery, transports.Outcome]]) -> None:
    """Write the attempts and the deliveries' new state; update the endpoints' health and
    tell the owners of endpoints disabled now.

    Outcomes are written with one UPDATE per kind of result (succeeded, failed) rather than
    per row, which is what keeps a large fan-out's bookkeeping cheap.
    """
    now = timezone.now()
    try:
        disabled = _record_batch(results, now)
    except Exception:
        logger.exception("Could not record %d attempts together; recording each", len(results))
        disabled = []
        for delivery, outcome in results:
            disabled += _record_one(delivery, outcome, now)
    for endpoint in disabled:
        health.endpoint_owner_notify(endpoint)


def _record_one(
    delivery: Delivery, outcome: transports.Outcome, now: datetime.datetime
) -> list[WebhookEndpoint]:
    try:
        return _record_batch([(delivery, outcome)], now)
    except Exception:
        logger.exception("Could not record the attempt of delivery %s", delivery.pk)
    # What happened is kept (success or not, status, duration); the text that could not be
    # stored is replaced.
    generic = dataclasses.replace(
        outcome, response_body="", error="The result of this attempt could not be stored."
    )
    try:
        return _record_batch([(delivery, generic)], now)
    except Exception:
        # Left "sending": the sweep reclaims it once the claim is stale.
        logger.exception("Could not record even a generic error for delivery %s", delivery.pk)
        return []


def _record_batch(
    results: list[tuple[Delivery, transports.Outcome]], now: datetime.datetime
) -> list[WebhookEndpoint]:
    with transaction.atomic():
        results = _claims_end(results, now)
        if not results:
            return []
        _attempts_insert(results)
        return health.endpoints_health_update(
            [(d.endpoint if d.endpoint_id else None, o) for d, o in results], now
        )


def _claims_end(
    results: list[tuple[Delivery, transports.Outcome]], now: datetime.datetime
) -> list[tuple[Delivery, transports.Outcome]]:
    """Move each delivery from "sending" to its new state (succeeded, failed, or retrying at
    its next attempt time), but only where the claim that sent it still holds the row; the
    results so written.

    One conditional UPDATE ... RETURNING per new state and claim (a fan-out's batch is
    mostly one or two of them) both checks the claim and writes the state, which is what
    keeps a large fan-out's bookkeeping cheap.
    """
    groups = defaultdict(list)
    for delivery, outcome in results:
        delay = None if outcome.permanent else retry_delay(delivery.attempt_count + 1)
        if outcome.succeeded:
            state = (DeliveryStatus.SUCCEEDED, None, now)
        elif delay is None:
            state = (DeliveryStatus.FAILED, None, now)
        else:
            state = (DeliveryStatus.RETRYING, now + delay, None)
        groups[(delivery.claimed_at, *state)].append(delivery.pk)
    written = set()
    for (claimed_at, status, next_attempt_at, completed_at), pks in groups.items():
        rows = bulk.rows_by_ids(
            _CLAIM_END_SQL,
            pks,
            [DeliveryStatus.SENDING, bulk.db_datetime(claimed_at)],
            before=(status, bulk.db_datetime(next_attempt_at), bulk.db_datetime(completed_at)),
        )
        written.update(row[0] for row in rows)
    kept = [(d, o) for d, o in results if d.pk in written]
    if len(kept) < len(results):
        logger.warning(
            "Not recording %d attempts: their deliveries were claimed again meanwhile",
            len(results) - len(kept),
        )
    return kept


# RETURNING: PostgreSQL, and SQLite from 3.35 for the demo.
_CLAIM_END_SQL = (
    f"UPDATE {Delivery._meta.db_table} SET status = %s, attempt_count = attempt_count + 1, "
    "claimed_at = NULL, next_attempt_at = %s, completed_at = %s "
    "WHERE id IN ({ids}) AND status = %s AND claimed_at = %s RETURNING id"
)


def _attempts_insert(results: list[tuple[Delivery, transports.Outcome]]) -> None:
    rows = [
        (
            delivery.pk,
            bulk.db_datetime(outcome.attempted_at),
            outcome.duration_ms,
            outcome.http_status,
            storable(outcome.response_body, http.RESPONSE_KEEP_BYTES),
            storable(outcome.error),
            outcome.succeeded,
        )
        for delivery, outcome in results
    ]
    bulk.rows_insert(DeliveryAttempt, _ATTEMPT_COLUMNS, rows)


_ATTEMPT_COLUMNS = (
    "delivery_id",
    "attempted_at",
    "duration_ms",
    "http_status",
    "response_body",
    "error",
    "succeeded",
)


def digest_record(
    *,
    digest: Digest,
    deliveries: list[Delivery],
    outcome: transports.Outcome,
    endpoint: WebhookEndpoint | None = None,
) -> bool:
    """Record a digest's send: an attempt on each of its deliveries, and the digest sent,
    failed or pending its next retry; for a chat digest, the health of the ``endpoint`` it
    went to, whose owner is told if it is disabled now (it answered that it is gone). False
    when the digest's claim was lost meanwhile."""
    now = timezone.now()
    disabled = []
    mine = _still_claimed(digest)
    attempt_count = digest.attempt_count + 1
    error = storable(outcome.error)
    delay = None if outcome.permanent else retry_delay(attempt_count)
    with transaction.atomic():
        if not mine.select_for_update().exists():
            logger.warning("Not recording digest %s: it was claimed again meanwhile", digest.pk)
            return False
        _attempts_insert([(delivery, outcome) for delivery in deliveries])
        held = Delivery.objects.filter(
            pk__in=[d.pk for d in deliveries], status=DeliveryStatus.HELD
        )
        if outcome.succeeded:
            mine.update(
                status=DigestStatus.SENT,
                attempt_count=attempt_count,
                sent_at=outcome.attempted_at,
                claimed_at=None,
                error="",
            )
            held.update(status=DeliveryStatus.SUCCEEDED, attempt_count=1, completed_at=now)
        elif delay is None:
            mine.update(
                status=DigestStatus.FAILED,
                attempt_count=attempt_count,
                claimed_at=None,
                error=error,
            )
            held.update(status=DeliveryStatus.FAILED, attempt_count=attempt_count, completed_at=now)
        else:
            mine.update(
                status=DigestStatus.PENDING,
                attempt_count=attempt_count,
                claimed_at=None,
                next_attempt_at=now + delay,
                error=error,
            )
        if endpoint is not None:
            disabled = health.endpoints_health_update([(endpoint, outcome)], now)
    for gone in disabled:
        health.endpoint_owner_notify(gone)
    return True


def digest_cancel(*, digest: Digest, reason: str) -> None:
    """End a claimed digest unsent (nothing left to send, or unsubscribed) and cancel its
    held deliveries."""
    mine = _still_claimed(digest)
    with transaction.atomic():
        if mine.update(status=DigestStatus.FAILED, claimed_at=None, error=reason):
            Delivery.objects.filter(digest=digest, status=DeliveryStatus.HELD).update(
                status=DeliveryStatus.CANCELLED,
                completed_at=timezone.now(),
                cancelled_reason=reason,
            )


def digest_release(*, digest: Digest, until: datetime.datetime) -> None:
    """Hand a claimed digest back unsent, due again at ``until`` (its endpoint is paused)."""
    _still_claimed(digest).update(
        status=DigestStatus.PENDING, claimed_at=None, next_attempt_at=until
    )


def _still_claimed(digest: Digest):
    """The digest's row while the claim that loaded ``digest`` still holds it."""
    return Digest.objects.filter(
        pk=digest.pk, status=DigestStatus.SENDING, claimed_at=digest.claimed_at
    )


# The attempt recorded for a claim that went stale.
WORKER_LOST = "The worker died or hung during the send."
# Stale claims taken back by one sweep, at most.
_RECLAIM_BATCH = 500


def stale_claims_reclaim(*, now: datetime.datetime) -> int:
    """Take back the claims of workers that died or hung (older than ``claim_timeout()``);
    returns how many deliveries and digests were taken back.

    Each counts as a failed attempt ("worker died or hung during the send") on the retry
    schedule, so work whose sending kills or hangs its worker every time (a poison message)
    ends failed once the schedule is spent instead of being reclaimed for ever. The receiver
    is not held to blame: the endpoint's health is left as it is.
    """
    stale = now - claims.claim_timeout()
    deliveries = list(
        Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=stale).order_by(
            "claimed_at"
        )[:_RECLAIM_BATCH]
    )
    lost = [
        (delivery, transports.Outcome(attempted_at=delivery.claimed_at, error=WORKER_LOST))
        for delivery in deliveries
    ]
    reclaimed = 0
    if lost:
        with transaction.atomic():
            kept = _claims_end(lost, now)
            _attempts_insert(kept)
        reclaimed += len(kept)
    for digest in Digest.objects.filter(status=DigestStatus.SENDING, claimed_at__lt=stale)[
        :_RECLAIM_BATCH
    ]:
        held = list(digest.deliveries.filter(status=DeliveryStatus.HELD))
        outcome = transports.Outcome(attempted_at=digest.claimed_at, error=WORKER_LOST)
        reclaimed += digest_record(digest=digest, deliveries=held, outcome=outcome)
    return reclaimed
