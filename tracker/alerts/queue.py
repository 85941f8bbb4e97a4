"""Ringing the doorbell: queueing Celery work after commit.

The database is the source of truth and the broker only a doorbell, so a broker that is
down must not fail the change that was just committed: the error is logged and the periodic
sweep (tracker.alerts.sweep) picks the work up from the database later.
"""

import logging
import threading
import time

logger = logging.getLogger(__name__)

# After a failure the broker is left alone this long: each try can take the whole broker
# connection timeout, and one transaction can ring for many events. What is not queued
# meanwhile the sweep finds in the database.
BROKER_RETRY_AFTER = 5.0
_broker_down_until = 0.0
_broker_lock = threading.Lock()


def event_dispatch_enqueue(event_id: int) -> None:
    """Queue the dispatch of one committed event (called from ``transaction.on_commit``)."""
    from tracker import tasks  # tasks import this package; import late to avoid a cycle

    _send(tasks.event_dispatch, event_id)


def deliveries_send_enqueue(delivery_ids: list[int]) -> None:
    """Queue the sending of deliveries that are due."""
    from tracker import tasks

    if delivery_ids:
        _send(tasks.deliveries_send, list(delivery_ids))


def digest_send_enqueue(digest_id: int) -> None:
    """Queue the sending of one digest email."""
    from tracker import tasks

    _send(tasks.digest_send, digest_id)


def _send(task, *args) -> None:
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        logger.debug("Not queueing %s%r: the broker was down a moment ago.", task.name, args)
        return
    try:
        task.delay(*args)
    except Exception as error:  # the broker's errors vary by transport; none may break the caller
        with _broker_lock:
            _broker_down_until = time.monotonic() + BROKER_RETRY_AFTER
        # Once per failure, which is at most once per BROKER_RETRY_AFTER: no traceback.
        logger.warning(
            "Could not queue %s%r (%r); not trying the broker for %g s. The alerts sweep "
            "will pick the work up.",
            task.name,
            args,
            error,
            BROKER_RETRY_AFTER,
        )
