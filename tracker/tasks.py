"""Celery tasks: thin wrappers that take ids and call into tracker.alerts.

Every task is safe to run twice (the work is claimed in the database first). The sending
tasks acknowledge late, so a message whose worker was killed is delivered again; the sweep
also reclaims such work from the database without waiting for the broker.
"""

from celery import shared_task

from tracker.alerts import digests, dispatch, reminders, sending, sweep

_LATE_ACK = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(**_LATE_ACK)
def event_dispatch(event_id: int) -> int:
    """Fan one committed event out into deliveries and send the immediate ones at once."""
    fanout = dispatch.event_dispatch(event_id=event_id)
    return sending.deliveries_send(delivery_ids=fanout.pending_ids).sent


@shared_task(**_LATE_ACK)
def deliveries_send(delivery_ids: list[int]) -> int:
    """Send the given deliveries that are due and unclaimed; returns how many were tried."""
    return sending.deliveries_send(delivery_ids=delivery_ids).sent


@shared_task(**_LATE_ACK)
def digest_send(digest_id: int) -> bool:
    """Send one digest email if it is due and unclaimed."""
    return digests.digest_send(digest_id=digest_id)


@shared_task
def alerts_sweep() -> dict:
    """Reclaim dead workers' claims and queue whatever is undispatched or due."""
    return vars(sweep.alerts_sweep())


@shared_task
def reminders_scan() -> int:
    """Record today's "deadline approaching" and "overdue" events (each fires once)."""
    return len(reminders.reminders_scan())


@shared_task
def digests_build(cadence: str) -> int:
    """Build the last period's digests for ``cadence`` ("daily" or "weekly") and send them."""
    digest_ids = digests.digests_build(cadence=cadence)
    for digest_id in digest_ids:
        digests.digest_send(digest_id=digest_id)
    return len(digest_ids)


@shared_task
def attempts_prune() -> int:
    """Delete delivery attempts older than the retention setting."""
    return sweep.attempts_prune()
