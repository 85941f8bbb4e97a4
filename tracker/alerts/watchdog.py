"""The worker's own watchdog: a worker that consumes nothing while work is due exits.

Celery workers on Redis have a long-standing failure (celery issues 8030, 8091, 9054, 10205,
10302): after the broker drops and comes back, the worker stays up, logs that it
reconnected, and consumes nothing more. The sweep cannot recover from that, because it is
itself a task on the same consumer, so alerts would wait until someone restarted the worker.

Recovery therefore does not depend on the consumer. A thread in each worker compares its
own progress with the database: when the worker has taken no message and runs no task for
``ALERTS_WATCHDOG_STALL_SECONDS`` while work on one of its queues has been due in the
database for as long, it says so in the log and exits with status 70 (EX_SOFTWARE). Its
supervisor (systemd, Kubernetes, ``manage.py run_all``) starts a fresh worker. Nothing is
lost by the exit: the work is in the database, and the worker runs no task at that moment.
"""

import datetime
import logging
import os
import sys
import threading
import time

from celery.signals import task_received
from celery.worker import state as worker_state
from django.conf import settings
from django.db import connection
from django.utils import timezone

from tracker.models import Event
from tracker.models.alerts import Delivery, DeliveryStatus, Digest, DigestStatus

logger = logging.getLogger(__name__)

EXIT_STATUS = 70

# Which due rows each queue's consumer is responsible for. The periodic queue carries the
# sweep, which queues all of them again, so a stalled periodic consumer leaves any of them
# waiting.
_DISPATCH, _SEND = "dispatch", "send"
_WORK_OF_QUEUE = {
    "dispatch": {_DISPATCH},
    "send": {_SEND},
    "periodic": {_DISPATCH, _SEND},
}


class Progress:
    """When this worker last took a message or ran a task (monotonic seconds)."""

    def __init__(self) -> None:
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def touch(self) -> None:
        with self._lock:
            self._last = time.monotonic()

    def idle_for(self) -> float:
        # A running task is progress: a worker busy on long work is not stalled.
        if worker_state.active_requests:
            self.touch()
        with self._lock:
            return time.monotonic() - self._last


def overdue_work(*, kinds: set[str], due_before: datetime.datetime) -> str | None:
    """The oldest work of ``kinds`` ("dispatch", "send") due before ``due_before``, in words;
    None when there is none."""
    if _DISPATCH in kinds:
        event = (
            Event.objects.filter(dispatched_at__isnull=True, occurred_at__lt=due_before)
            .order_by("id")
            .values_list("pk", "occurred_at")
            .first()
        )
        if event:
            return f"event #{event[0]} undispatched since {event[1].isoformat()}"
    if _SEND in kinds:
        delivery = (
            Delivery.objects.filter(
                status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
                next_attempt_at__lt=due_before,
            )
            .order_by("next_attempt_at")
            .values_list("pk", "next_attempt_at")
            .first()
        )
        if delivery:
            return f"delivery #{delivery[0]} due since {delivery[1].isoformat()}"
        digest = (
            Digest.objects.filter(status=DigestStatus.PENDING, next_attempt_at__lt=due_before)
            .order_by("next_attempt_at")
            .values_list("pk", "next_attempt_at")
            .first()
        )
        if digest:
            return f"digest #{digest[0]} due since {digest[1].isoformat()}"
    return None


def start(*, queues: set[str]) -> threading.Thread | None:
    """Start watching this worker, which consumes ``queues``; None when the watchdog is off
    (``ALERTS_WATCHDOG_STALL_SECONDS`` = 0) or the worker consumes none of the alert queues."""
    stall = settings.ALERTS_WATCHDOG_STALL_SECONDS
    kinds = set().union(*(_WORK_OF_QUEUE.get(name, set()) for name in queues))
    if stall <= 0 or not kinds:
        return None
    progress = Progress()
    task_received.connect(lambda **kwargs: progress.touch(), weak=False)
    thread = threading.Thread(
        target=_watch, args=(progress, kinds, stall), name="alerts-watchdog", daemon=True
    )
    thread.start()
    logger.info("Watchdog on: exits when stalled for %g s with %s work due.", stall, kinds)
    return thread


def _watch(progress: Progress, kinds: set[str], stall: float) -> None:
    while True:
        time.sleep(max(0.5, stall / 4))
        idle = progress.idle_for()
        if idle < stall:
            continue
        try:
            overdue = overdue_work(
                kinds=kinds, due_before=timezone.now() - datetime.timedelta(seconds=stall)
            )
        except Exception:  # the database is down: a restart would not help
            logger.warning("Watchdog could not read the database.", exc_info=True)
            overdue = None
        finally:
            connection.close()
        if overdue:
            _exit(idle, overdue)


def _exit(idle: float, overdue: str) -> None:
    logger.critical(
        "Worker stalled: it has consumed nothing for %.0f s while %s. Its broker connection "
        "is most likely stuck (a known Celery failure after a broker restart). Exiting with "
        "status %d so that its supervisor starts a fresh worker.",
        idle,
        overdue,
        EXIT_STATUS,
    )
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not a warm shutdown: that waits on the very consumer that is stuck.
    os._exit(EXIT_STATUS)
