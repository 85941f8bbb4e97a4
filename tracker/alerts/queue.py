"""Ringing the doorbell: queueing Celery work after commit.

The database is the source of truth and the broker only a doorbell, so a broker that is
down must not fail the change that was just committed: the error is logged and the periodic
sweep (tracker.alerts.sweep) picks the work up from the database later.
"""

import logging

logger = logging.getLogger(__name__)


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
    try:
        task.delay(*args)
    except Exception:  # the broker's errors vary by transport; none may break the caller
        logger.warning(
            "Could not queue %s%r; the alerts sweep will pick it up.",
            task.name,
            args,
            exc_info=True,
        )
