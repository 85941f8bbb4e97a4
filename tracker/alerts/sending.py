"""Sending deliveries: the orchestration of claim (tracker.alerts.claims), send, and record
(tracker.alerts.recording), and the building of each message for its transport.

A fan-out runs ``ALERTS_SEND_CONCURRENCY`` threads. Each takes a batch of ids, claims them
with one conditional UPDATE, sends them one by one and records the results with a couple of
queries, on its own database connection; no thread waits for another's bookkeeping, and
the queries are paid per batch rather than per delivery. A thread whose batch has taken a
send's total timeout hands the rest back, so a live worker never holds a claim longer than
two sends: an older claim (``claims.claim_timeout()``) means its worker died, and the sweep
takes it back.
"""

import datetime
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields

from django.conf import settings
from django.db import connection
from django.utils import timezone

from tracker.models.alerts import Channel, Delivery

from . import claims, messages, recording, transports

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
    events: dict = {}
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
            claims.deliveries_release([d for d, _ in jobs[index:]])
            released = [d.pk for d, _ in jobs[index:]]
            break
        results.append((delivery, _run(delivery, job)))
    if results:
        _record(results, report)
    return released


def _run(delivery: Delivery, job: Callable[[], transports.Outcome]) -> transports.Outcome:
    return send_safely(job, what=f"delivery {delivery.pk}")


def send_safely(job: Callable[[], transports.Outcome], *, what: str) -> transports.Outcome:
    """Run one send; an exception becomes a failed attempt rather than abort the batch
    (whose claimed work would stay "sending" and be sent again and again)."""
    started = timezone.now()
    try:
        return job()
    except Exception as error:
        logger.exception("Sending %s raised", what)
        # Bad input (a header with a newline, text that cannot be encoded) fails the same
        # way on every retry.
        return transports.Outcome(
            attempted_at=started,
            error=f"Sending failed: {error!r}",
            permanent=isinstance(error, ValueError),
        )


def _claim(ids: list[int], report: SendReport, events: dict) -> list[tuple[Delivery, Callable]]:
    """Claim the due ones among ``ids`` and prepare their messages."""
    now = timezone.now()
    # A fan-out is many deliveries of one event: it is loaded (and its body built) once.
    claim = claims.deliveries_claim(ids=ids, now=now, events=events)
    report.cancelled += claim.cancelled
    return [(delivery, _job(delivery, now)) for delivery in claim.deliveries]


def _job(delivery: Delivery, now: datetime.datetime) -> Callable[[], transports.Outcome]:
    try:
        return _prepare(delivery, now)
    except Exception:
        # A message that cannot even be built (a template error) must not stay "sending"
        # forever; it is recorded as a failed attempt like any other.
        logger.exception("Could not build the message of delivery %s", delivery.pk)
        error = transports.Outcome(attempted_at=now, error="Could not build the message.")
        return lambda: error


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
    report.sent += len(results)
    for delivery, outcome in results:
        if outcome.succeeded:
            report.succeeded += 1
        elif recording.is_final(delivery, outcome):
            report.failed += 1
    recording.deliveries_record(results)
