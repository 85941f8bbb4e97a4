"""Sending deliveries: claim, send, record every attempt, schedule retries.

A fan-out runs ``ALERTS_SEND_CONCURRENCY`` threads. Each takes a batch of ids, claims them
with one conditional UPDATE, sends them one by one and records the results with a couple of
queries, on its own database connection; no thread waits for another's bookkeeping, and
the queries are paid per batch rather than per delivery. A thread whose batch has taken a
send's total timeout hands the rest back, so a live worker never holds a claim longer than
two sends: an older claim (``claim_timeout()``) means its worker died, and the sweep
takes it back.
"""

import dataclasses
import datetime
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from tracker.models import Event, WebhookEndpoint
from tracker.models.alerts import Channel, Delivery, DeliveryAttempt, DeliveryStatus
from tracker.services.alerts import deliveries_cancel_for_endpoint

from . import http, messages, transports

logger = logging.getLogger(__name__)

# Deliveries one thread claims at once.
SEND_BATCH = 32


@dataclass
class SendReport:
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0

    def add(self, other: "SendReport") -> None:
        for field in fields(self):
            setattr(self, field.name, getattr(self, field.name) + getattr(other, field.name))


def claim_timeout() -> datetime.timedelta:
    """How long a live worker may hold a claim: two sends (see the module doc) and a margin."""
    return datetime.timedelta(
        seconds=settings.WEBHOOK_TOTAL_TIMEOUT * 2 + settings.ALERTS_RECLAIM_MARGIN
    )


def retry_delay(attempts_made: int) -> datetime.timedelta | None:
    """How long to wait after ``attempts_made`` failed attempts; None when there are no
    retries left. Spread by ``WEBHOOK_RETRY_JITTER`` either way."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempts_made >= len(schedule):
        return None
    jitter = settings.WEBHOOK_RETRY_JITTER
    seconds = schedule[attempts_made] * (1 + random.uniform(-jitter, jitter))
    return datetime.timedelta(seconds=max(0.0, seconds))


def deliveries_send(*, delivery_ids: Iterable[int]) -> SendReport:
    """Send the given deliveries that are due and not claimed by someone else.

    Safe to run twice: a delivery is only sent by whoever claims it (pending or retrying,
    due), so a second run over the same ids sends nothing.
    """
    waiting = deque(sorted(set(delivery_ids)))
    threads = min(settings.ALERTS_SEND_CONCURRENCY, math.ceil(len(waiting) / SEND_BATCH))
    if threads <= 1:
        return _send_from(waiting, threading.Lock(), {})
    lock = threading.Lock()
    events: dict[int, Event] = {}
    report = SendReport()
    pool = _pool()
    for future in [pool.submit(_thread_main, waiting, lock, events) for _ in range(threads)]:
        report.add(future.result())
    return report


_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    # One pool per process, shared by concurrent tasks: its threads keep their database
    # connections between fan-outs. A task whose jobs queue behind another's loses nothing,
    # as ids are only claimed when a thread starts on them.
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=max(1, settings.ALERTS_SEND_CONCURRENCY),
                thread_name_prefix="alerts-send",
            )
        return _executor


def _thread_main(waiting: deque, lock: threading.Lock, events: dict) -> SendReport:
    # The pool's threads keep their connections between fan-outs as CONN_MAX_AGE allows,
    # checked before and after each use the way Django does around a request.
    connection.close_if_unusable_or_obsolete()
    try:
        return _send_from(waiting, lock, events)
    finally:
        connection.close_if_unusable_or_obsolete()


def _send_from(waiting: deque, lock: threading.Lock, events: dict) -> SendReport:
    report = SendReport()
    while True:
        with lock:
            batch = [waiting.popleft() for _ in range(min(SEND_BATCH, len(waiting)))]
        if not batch:
            return report
        released = _send_claimed(_claim(batch, report, events), report)
        if released:
            with lock:
                waiting.extend(released)


def deliveries_send_claimed(*, deliveries: list[Delivery]) -> SendReport:
    """Send deliveries the caller has already claimed (with their event, endpoint and
    subscription loaded): a small fan-out's dispatch claims them as it creates them, which
    spares the latency of claiming and loading them again."""
    report = SendReport()
    now = timezone.now()
    released = _send_claimed([(d, _job(d, now)) for d in deliveries], report)
    if released:
        report.add(deliveries_send(delivery_ids=released))
    return report


def _send_claimed(jobs: list[tuple[Delivery, Callable]], report: SendReport) -> list[int]:
    """Send claimed deliveries one by one and record them; returns the ids handed back."""
    claimed_at = time.monotonic()
    results, released = [], []
    for index, (delivery, job) in enumerate(jobs):
        if results and time.monotonic() - claimed_at > settings.WEBHOOK_TOTAL_TIMEOUT:
            # Slow receivers ate the batch's time: hand the rest back rather than hold
            # their claims past claim_timeout() (the sweep would send them twice).
            _release([d for d, _ in jobs[index:]])
            released = [d.pk for d, _ in jobs[index:]]
            break
        results.append((delivery, _run(delivery, job)))
    if results:
        _record(results, report)
    return released


def _run(delivery: Delivery, job: Callable[[], transports.Outcome]) -> transports.Outcome:
    """Run one send; an exception becomes a failed attempt rather than abort the batch
    (whose claimed deliveries would stay "sending" and be sent again and again)."""
    started = timezone.now()
    try:
        return job()
    except Exception as error:
        logger.exception("Sending delivery %s raised", delivery.pk)
        # Bad input (a header with a newline, text that cannot be encoded) fails the same
        # way on every retry.
        return transports.Outcome(
            attempted_at=started,
            error=f"Sending failed: {error!r}",
            permanent=isinstance(error, ValueError),
        )


def _release(deliveries: list[Delivery]) -> None:
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


def _claim_ids(ids: list[int], now: datetime.datetime) -> list[int]:
    # One conditional UPDATE ... RETURNING: atomic on its own, so two workers given the same
    # ids cannot both claim one (PostgreSQL, and SQLite from 3.35 for the demo).
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


def _claim(ids: list[int], report: SendReport, events: dict) -> list[tuple[Delivery, Callable]]:
    """Claim the due ones among ``ids`` and prepare their messages. Deliveries whose
    subscription was turned off, whose endpoint was disabled or whose owner was deactivated
    are cancelled instead."""
    now = timezone.now()
    claimed_ids = _claim_ids(ids, now)
    if not claimed_ids:
        return []
    rows = list(
        Delivery.objects.filter(pk__in=claimed_ids).select_related(
            "endpoint", "subscription", "owner"
        )
    )
    reasons = {d.pk: reason for d in rows if (reason := _unwanted_because(d))}
    cancelled = list(reasons)
    for reason in set(reasons.values()):
        Delivery.objects.filter(pk__in=[pk for pk, r in reasons.items() if r == reason]).update(
            status=DeliveryStatus.CANCELLED,
            completed_at=now,
            next_attempt_at=None,
            claimed_at=None,
            cancelled_reason=reason,
        )
    report.cancelled += len(cancelled)
    # A fan-out is many deliveries of one event: load it (and build its body) once.
    missing = {d.event_id for d in rows if d.event_id and d.event_id not in events}
    if missing:
        events.update(Event.objects.in_bulk(missing))
    jobs = []
    for delivery in rows:
        if delivery.pk not in cancelled:
            delivery.event = events.get(delivery.event_id)
            jobs.append((delivery, _job(delivery, now)))
    return jobs


def _job(delivery: Delivery, now: datetime.datetime) -> Callable[[], transports.Outcome]:
    try:
        return _prepare(delivery, now)
    except Exception:
        # A message that cannot even be built (a template error) must not stay "sending"
        # forever; it is recorded as a failed attempt like any other.
        logger.exception("Could not build the message of delivery %s", delivery.pk)
        error = transports.Outcome(attempted_at=now, error="Could not build the message.")
        return lambda: error


def _unwanted_because(delivery: Delivery) -> str:
    """Why a claimed delivery must not be sent after all, or "" when it may."""
    if not delivery.owner.is_active:
        return "Its owner's account was deactivated."
    if delivery.subscription is not None and not delivery.subscription.active:
        return "Its subscription was turned off."
    if delivery.endpoint is not None and not delivery.endpoint.enabled:
        return "Its webhook endpoint was disabled."
    return ""


def _prepare(delivery: Delivery, now: datetime.datetime) -> Callable[[], transports.Outcome]:
    if delivery.channel == Channel.WEBHOOK:
        if delivery.event is None:  # a test delivery: its body names the delivery
            body = messages.webhook_body(delivery)
        else:
            # The body is the same for every subscriber of the event; build it once.
            body = getattr(delivery.event, "_webhook_body", None)
            if body is None:
                body = delivery.event._webhook_body = messages.webhook_body(delivery)
        message = transports.WebhookMessage(
            url=delivery.endpoint.url,
            message_id=delivery.message_id,
            body=body,
            secrets=messages.endpoint_signing_secrets(delivery.endpoint, now),
        )
        return lambda: transports.webhook_send(message)
    email = messages.email_for_delivery(delivery)
    return lambda: transports.email_send(email)


def _record(results: list[tuple[Delivery, transports.Outcome]], report: SendReport) -> None:
    """Write the attempts and the deliveries' new state; update the endpoints' health.

    Outcomes are written with one UPDATE per kind of result (succeeded, failed) rather than
    per row, which is what keeps a large fan-out's bookkeeping cheap. Recording never gives
    up on a batch: when the batch cannot be written (text the database refuses), each
    delivery is written on its own, and one whose result still cannot be written gets a
    generic error instead; otherwise it would stay "sending" and be sent again and again.
    """
    now = timezone.now()
    report.sent += len(results)
    for delivery, outcome in results:
        if outcome.succeeded:
            report.succeeded += 1
        elif outcome.permanent or retry_delay(delivery.attempt_count + 1) is None:
            report.failed += 1
    try:
        disabled = _record_batch(results, now)
    except Exception:
        logger.exception("Could not record %d attempts together; recording each", len(results))
        disabled = []
        for delivery, outcome in results:
            disabled += _record_one(delivery, outcome, now)
    for endpoint in disabled:
        _notify_owner(endpoint)


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


def storable(text: str, limit: int | None = None) -> str:
    """``text`` as the database can store it: PostgreSQL refuses NUL characters in text."""
    text = text[:limit] if limit is not None else text
    return text.replace("\x00", "")


def _record_batch(
    results: list[tuple[Delivery, transports.Outcome]], now: datetime.datetime
) -> list[WebhookEndpoint]:
    with transaction.atomic():
        results = _still_claimed(results)
        if not results:
            return []
        return _write(results, now)


def _still_claimed(
    results: list[tuple[Delivery, transports.Outcome]],
) -> list[tuple[Delivery, transports.Outcome]]:
    """The results whose delivery is still held by the claim that sent it, locked until
    the transaction ends. A claim older than claim_timeout() may have been taken back by
    the sweep and claimed again, or the delivery redelivered from the admin: a stale
    worker's result must not overwrite the newer state."""
    current = dict(
        Delivery.objects.select_for_update()
        .filter(pk__in=[d.pk for d, _ in results], status=DeliveryStatus.SENDING)
        .values_list("pk", "claimed_at")
    )
    kept = [(d, o) for d, o in results if d.pk in current and current[d.pk] == d.claimed_at]
    if len(kept) < len(results):
        logger.warning(
            "Not recording %d attempts: their deliveries were claimed again meanwhile",
            len(results) - len(kept),
        )
    return kept


def _write(
    results: list[tuple[Delivery, transports.Outcome]], now: datetime.datetime
) -> list[WebhookEndpoint]:
    attempts, succeeded, failed, retrying = [], [], [], []
    for delivery, outcome in results:
        attempts.append(
            DeliveryAttempt(
                delivery_id=delivery.pk,
                attempted_at=outcome.attempted_at,
                duration_ms=outcome.duration_ms,
                http_status=outcome.http_status,
                response_body=storable(outcome.response_body, http.RESPONSE_KEEP_BYTES),
                error=storable(outcome.error),
                succeeded=outcome.succeeded,
            )
        )
        delay = None if outcome.permanent else retry_delay(delivery.attempt_count + 1)
        if outcome.succeeded:
            succeeded.append(delivery.pk)
        elif delay is None:
            failed.append(delivery.pk)
        else:
            retrying.append((delivery.pk, now + delay))
    done = {"claimed_at": None, "next_attempt_at": None, "completed_at": now}
    # The rows are locked by _still_claimed; "sending" is checked again all the same.
    sending = Delivery.objects.filter(status=DeliveryStatus.SENDING)
    DeliveryAttempt.objects.bulk_create(attempts)
    if succeeded:
        sending.filter(pk__in=succeeded).update(
            status=DeliveryStatus.SUCCEEDED, attempt_count=F("attempt_count") + 1, **done
        )
    if failed:
        sending.filter(pk__in=failed).update(
            status=DeliveryStatus.FAILED, attempt_count=F("attempt_count") + 1, **done
        )
    for pk, next_attempt_at in retrying:
        sending.filter(pk=pk).update(
            status=DeliveryStatus.RETRYING,
            attempt_count=F("attempt_count") + 1,
            claimed_at=None,
            next_attempt_at=next_attempt_at,
        )
    return _endpoint_health(results, now)


def _endpoint_health(
    results: list[tuple[Delivery, transports.Outcome]], now: datetime.datetime
) -> list[WebhookEndpoint]:
    """Track failure streaks; disable endpoints that answered 410 or failed for too long."""
    ok, failing, gone = set(), set(), set()
    for delivery, outcome in results:
        if delivery.endpoint_id is None:
            continue
        if outcome.succeeded:
            # Only a streak needs ending; the common case (no streak) costs no query.
            if delivery.endpoint.failing_since is not None:
                ok.add(delivery.endpoint_id)
        else:
            failing.add(delivery.endpoint_id)
        if outcome.gone:
            gone.add(delivery.endpoint_id)
    failing -= {d.endpoint_id for d, o in results if o.succeeded}
    if ok:
        WebhookEndpoint.objects.filter(pk__in=ok, failing_since__isnull=False).update(
            failing_since=None
        )
    if failing:
        WebhookEndpoint.objects.filter(pk__in=failing, failing_since__isnull=True).update(
            failing_since=now
        )
    if not failing and not gone:
        return []
    too_long = now - datetime.timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS)
    reasons = {pk: "It answered 410 Gone." for pk in gone}
    days = f"{settings.WEBHOOK_DISABLE_AFTER_DAYS:g}"
    for pk in WebhookEndpoint.objects.filter(
        pk__in=failing - gone, enabled=True, failing_since__lte=too_long
    ).values_list("pk", flat=True):
        reasons[pk] = f"Every delivery to it failed for {days} days."
    disabled = []
    for pk, reason in reasons.items():
        endpoint = endpoint_disable(endpoint_id=pk, reason=reason, now=now)
        if endpoint is not None:
            disabled.append(endpoint)
    return disabled


def endpoint_disable(
    *, endpoint_id: int, reason: str, now: datetime.datetime
) -> WebhookEndpoint | None:
    """Disable an endpoint (once) and cancel what waits for it; None if it already was."""
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True).update(
            enabled=False, disabled_reason=reason, disabled_at=now
        )
        if not changed:
            return None
        endpoint = WebhookEndpoint.objects.select_related("owner").get(pk=endpoint_id)
        deliveries_cancel_for_endpoint(endpoint=endpoint)
    return endpoint


def _notify_owner(endpoint: WebhookEndpoint) -> None:
    if not endpoint.owner.email:
        return
    outcome = transports.email_send(messages.email_for_endpoint_disabled(endpoint))
    if not outcome.succeeded:
        logger.warning(
            "Could not tell %s that endpoint %s was disabled: %s",
            endpoint.owner.email,
            endpoint.pk,
            outcome.error,
        )
