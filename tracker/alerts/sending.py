"""Sending deliveries: the orchestration of claim (tracker.alerts.claims), send, and record
(tracker.alerts.recording), and the building of each message for its transport.

The task's own thread claims a batch, builds the messages and hands each send to the
process's sender threads (which do network I/O only); the results are recorded in batches as
they come in, on a recorder thread of the fan-out's own when it is larger than one claim
batch, so that the next claim never waits for the last batch's bookkeeping.

A send counts against ``ALERTS_SEND_CONCURRENCY`` until it has taken
``ALERTS_SLOW_SEND_AFTER``; after that it keeps its thread until its total timeout but no
longer holds up anyone, so a receiver that never answers delays a healthy one's delivery by
at most that long. ``ALERTS_SEND_MAX_IN_FLIGHT`` bounds all sends in flight. A claimed
delivery waits at most a send's total timeout for a sender (or is handed back), so a live
worker never holds a claim longer than two sends: an older claim
(``claims.claim_timeout()``) means its worker died, and the sweep takes it back. Immediate
emails of one batch go out together over one SMTP connection.
"""

import contextlib
import datetime
import functools
import logging
import queue
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.utils import timezone

from tracker.models.alerts import Channel, Delivery

from . import chat, claims, messages, recording, transports

logger = logging.getLogger(__name__)

# Deliveries claimed together, and results recorded together (once this many are in, or
# RECORD_AFTER seconds after the first of them came in): the queries of a fan-out are paid
# per batch rather than per delivery.
CLAIM_BATCH = 100
RECORD_BATCH = 100
RECORD_AFTER = 0.1
# How often the loop looks at its sends when none has finished.
_TICK = 0.02


@dataclass
class SendReport:
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0


@dataclass
class Send:
    """One network job: a webhook, or the immediate emails of a batch (one SMTP session)."""

    deliveries: list[Delivery]
    run: Callable[[], list[transports.Outcome]]
    endpoint_id: int | None = None
    claimed_at: float = field(default_factory=time.monotonic)


class _Lanes:
    """The process's sender threads and its count of sends in flight, shared by every task
    the worker runs at once."""

    def __init__(self):
        self._lock = threading.Lock()
        self.counted = 0  # in flight and not yet slow
        self.total = 0
        self._executor: ThreadPoolExecutor | None = None

    def take(self) -> bool:
        with self._lock:
            if (
                self.counted >= settings.ALERTS_SEND_CONCURRENCY
                or self.total >= settings.ALERTS_SEND_MAX_IN_FLIGHT
            ):
                return False
            self.counted += 1
            self.total += 1
            return True

    def slowed(self) -> None:
        with self._lock:
            self.counted -= 1

    def give_back(self, counted: bool) -> None:
        with self._lock:
            self.total -= 1
            self.counted -= counted

    def submit(self, fn, *args) -> Future:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=max(1, settings.ALERTS_SEND_MAX_IN_FLIGHT),
                    thread_name_prefix="alerts-send",
                )
        return self._executor.submit(fn, *args)


_lanes = _Lanes()


@dataclass
class _Flight:
    send: Send
    started: float
    counted: bool = True  # still counts against ALERTS_SEND_CONCURRENCY
    done: bool = False


class _Recorder:
    """Records a fan-out's results on a thread (and database connection) of its own, one
    batch after another, while the fan-out's thread claims the next deliveries: the two
    wait on PostgreSQL at the same time rather than in turn. Used only when the claims are
    committed (outside a transaction, as in a worker), since another connection could not
    see them otherwise."""

    def __init__(self):
        self._batches: queue.SimpleQueue = queue.SimpleQueue()
        self.recorded: queue.SimpleQueue = queue.SimpleQueue()
        self.pending = 0  # batches handed over and not yet recorded
        self._thread = threading.Thread(target=self._loop, name="alerts-record", daemon=True)
        self._thread.start()

    def submit(self, results: list[tuple[Delivery, transports.Outcome]]) -> None:
        self.pending += 1
        self._batches.put(results)

    def close(self) -> None:
        self._batches.put(None)
        self._thread.join()

    def _loop(self) -> None:
        try:
            while (results := self._batches.get()) is not None:
                try:
                    recording.deliveries_record(results)
                except Exception:  # left "sending": the sweep reclaims them once stale
                    logger.exception("Recording %d results failed", len(results))
                self.recorded.put(results)
        finally:
            connection.close()


def deliveries_send(*, delivery_ids: Iterable[int]) -> SendReport:
    """Send the given deliveries that are due and not claimed by someone else.

    Safe to run twice: a delivery is only sent by whoever claims it (pending or retrying,
    due, its endpoint neither paused nor at its concurrency), so a second run over the same
    ids sends nothing. Deliveries left unclaimed because their endpoint was busy with another
    worker's sends are left to the sweep.
    """
    return _FanOut(delivery_ids).run()


class _FanOut:
    """One task's sending. Its own thread claims, records and watches; its runners (sender
    threads, each holding one place of ALERTS_SEND_CONCURRENCY) take the claimed sends one
    after another, so sending never waits for the bookkeeping."""

    def __init__(self, ids: Iterable[int]):
        self.waiting = deque(sorted(set(ids)))
        self.lock = threading.Lock()  # guards ready, flights, runners
        self.ready: deque[Send] = deque()  # claimed, waiting for a runner
        self.flights: deque[_Flight] = deque()  # started, in start order (done ones linger)
        self.runners = 0
        self.finished: queue.SimpleQueue = queue.SimpleQueue()
        # Ids whose endpoint was at its concurrency with this run's own sends: tried again
        # when one of those finishes.
        self.deferred: dict[int, list[int]] = defaultdict(list)
        self.results: list[tuple[Delivery, transports.Outcome]] = []
        self.first_result_at = 0.0
        self.events: dict = {}
        self.report = SendReport()
        self.recorder = (
            _Recorder()
            if len(self.waiting) > CLAIM_BATCH and not connection.in_atomic_block
            else None
        )

    def run(self) -> SendReport:
        try:
            return self._run()
        finally:
            if self.recorder is not None:
                self.recorder.close()

    def _run(self) -> SendReport:
        while True:
            with self.lock:
                ready = len(self.ready)
            if self.waiting and ready < 2 * settings.ALERTS_SEND_CONCURRENCY:
                self._claim()
            self._start_runners()
            self._collect(wait=True)
            self._mark_slow()
            self._recorded()
            if self.results and (
                len(self.results) >= RECORD_BATCH
                or time.monotonic() - self.first_result_at >= RECORD_AFTER
            ):
                self._record()
            if not self.waiting:
                with self.lock:
                    busy = self.ready or self.runners
                if not busy:
                    self._collect(wait=False)
                    if self.results:
                        self._record()
                    self._recorded(wait=True)
                    if not self.waiting:
                        break
        return self.report

    def _claim(self) -> None:
        batch = [self.waiting.popleft() for _ in range(min(CLAIM_BATCH, len(self.waiting)))]
        now = timezone.now()
        claim = claims.deliveries_claim(ids=batch, now=now, events=self.events)
        self.report.cancelled += claim.cancelled
        sends = _sends_prepare(claim.deliveries, now)
        with self.lock:
            mine = {f.send.endpoint_id for f in self.flights if not f.done}
            mine |= {send.endpoint_id for send in self.ready}
            self.ready.extend(sends)
        mine |= {d.endpoint_id for d in claim.deliveries}
        mine |= {delivery.endpoint_id for delivery, _ in self.results}
        for pk, endpoint_id in claim.deferred:
            if endpoint_id in mine:
                self.deferred[endpoint_id].append(pk)

    def _start_runners(self) -> None:
        stale = []
        with self.lock:
            while self.ready and (
                time.monotonic() - self.ready[0].claimed_at > settings.WEBHOOK_TOTAL_TIMEOUT
            ):
                # Waited a whole send for a sender (every one busy with slow receivers):
                # handed back rather than held towards claim_timeout().
                stale.append(self.ready.popleft())
            wanted = len(self.ready)
        for send in stale:
            claims.deliveries_release(send.deliveries)
        for _ in range(wanted):
            if not _lanes.take():
                return
            with self.lock:
                self.runners += 1
            _lanes.submit(self._runner)

    def _runner(self) -> None:
        flight, counted = None, True
        try:
            while True:
                with self.lock:
                    if flight is not None:
                        flight.done = True
                        if not flight.counted:
                            # It turned slow and another runner took its place: this one
                            # ends here.
                            counted = False
                            return
                    if not self.ready:
                        return
                    send = self.ready.popleft()
                    flight = _Flight(send=send, started=time.monotonic())
                    self.flights.append(flight)
                self.finished.put((send, _run(send)))
        finally:
            with self.lock:
                self.runners -= 1
            _lanes.give_back(counted)

    def _collect(self, *, wait: bool) -> None:
        finished = []
        if wait:
            with contextlib.suppress(queue.Empty):
                finished.append(self.finished.get(timeout=_TICK))
        while True:
            try:
                finished.append(self.finished.get_nowait())
            except queue.Empty:
                break
        for send, outcomes in finished:
            if not self.results:
                self.first_result_at = time.monotonic()
            self.results.extend(zip(send.deliveries, outcomes, strict=True))

    def _mark_slow(self) -> None:
        """Sends that have taken ALERTS_SLOW_SEND_AFTER stop counting against the
        concurrency: another runner starts in their place."""
        slow_since = time.monotonic() - settings.ALERTS_SLOW_SEND_AFTER
        with self.lock:
            while self.flights and (self.flights[0].done or self.flights[0].started <= slow_since):
                flight = self.flights.popleft()
                if not flight.done and flight.counted:
                    flight.counted = False
                    _lanes.slowed()

    def _record(self) -> None:
        results, self.results = self.results, []
        self.report.sent += len(results)
        for delivery, outcome in results:
            if outcome.succeeded:
                self.report.succeeded += 1
            elif recording.is_final(delivery, outcome):
                self.report.failed += 1
        if self.recorder is None:
            recording.deliveries_record(results)
            self._release_deferred(results)
        else:
            self.recorder.submit(results)

    def _recorded(self, *, wait: bool = False) -> None:
        """Take in the batches the recorder has written (with ``wait``, all of them)."""
        while self.recorder is not None and self.recorder.pending:
            try:
                results = self.recorder.recorded.get(block=wait)
            except queue.Empty:
                return
            self.recorder.pending -= 1
            self._release_deferred(results)

    def _release_deferred(self, results: list[tuple[Delivery, transports.Outcome]]) -> None:
        # Recorded, these sends no longer count as in flight: their endpoint's deferred
        # deliveries can be claimed.
        for endpoint_id in {delivery.endpoint_id for delivery, _ in results}:
            self.waiting.extend(self.deferred.pop(endpoint_id, ()))


def _run(send: Send) -> list[transports.Outcome]:
    what = f"deliveries {', '.join(str(d.pk) for d in send.deliveries)}"
    outcomes = send_safely(send.run, what=what, count=len(send.deliveries))
    return outcomes


def send_safely(
    job: Callable[[], list[transports.Outcome]], *, what: str, count: int = 1
) -> list[transports.Outcome]:
    """Run one send; an exception becomes a failed attempt for each of its ``count``
    messages rather than abort the batch (whose claimed work would stay "sending" and be
    sent again and again)."""
    started = timezone.now()
    try:
        return job()
    except Exception as error:
        logger.exception("Sending %s raised", what)
        # Bad input (a header with a newline, text that cannot be encoded) fails the same
        # way on every retry.
        outcome = transports.Outcome(
            attempted_at=started,
            error=f"Sending failed: {error!r}",
            permanent=isinstance(error, ValueError),
        )
        return [outcome] * count


def _sends_prepare(deliveries: list[Delivery], now: datetime.datetime) -> list[Send]:
    """The network jobs for claimed deliveries: one per webhook or chat message, one for all
    the emails.
    A message that cannot even be built (a template error) becomes a failed attempt, as a
    delivery must not stay "sending" for ever."""
    sends, emails = [], []
    for delivery in deliveries:
        try:
            if delivery.channel == Channel.EMAIL:
                emails.append((delivery, messages.email_for_delivery(delivery)))
                continue
            if delivery.channel == Channel.WEBHOOK:
                job = functools.partial(transports.webhook_send, _webhook_message(delivery, now))
            else:  # Slack or Teams
                body = chat.chat_body(delivery)
                message = transports.ChatMessage(url=delivery.endpoint.url, body=body)
                job = functools.partial(transports.chat_send, message)
            sends.append(
                Send([delivery], lambda job=job: [job()], endpoint_id=delivery.endpoint_id)
            )
        except Exception:
            logger.exception("Could not build the message of delivery %s", delivery.pk)
            error = transports.Outcome(attempted_at=now, error="Could not build the message.")
            sends.append(Send([delivery], lambda error=error: [error]))
    if emails:
        mails = [email for _, email in emails]
        sends.append(Send([d for d, _ in emails], lambda: transports.emails_send(mails)))
    return sends


def _webhook_message(delivery: Delivery, now: datetime.datetime) -> transports.WebhookMessage:
    if delivery.event is None:  # a test delivery: its body names the delivery
        body = messages.webhook_body(delivery)
    else:
        # The body is the same for every subscriber of the event; build it once.
        body = getattr(delivery.event, "_webhook_body", None)
        if body is None:
            body = delivery.event._webhook_body = messages.webhook_body(delivery)
    return transports.WebhookMessage(
        url=delivery.endpoint.url,
        message_id=delivery.message_id,
        body=body,
        secrets=messages.endpoint_signing_secrets(delivery.endpoint, now),
    )
