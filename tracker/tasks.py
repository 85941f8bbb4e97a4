"""Celery tasks: thin wrappers that take ids and call into tracker.alerts and
tracker.sources.

Every task is safe to run twice (the work is claimed in the database first). The sending
tasks acknowledge late, so a message whose worker was killed is delivered again; the sweep
also reclaims such work from the database without waiting for the broker.
"""

import contextlib
import logging
import random

from celery import shared_task
from django.conf import settings

from tracker.alerts import digests, dispatch, reminders, retention, sending, sweep
from tracker.models import Organization
from tracker.services.operations import task_run_record
from tracker.sources.edgar import feed as edgar_feed
from tracker.sources.edgar.client import MissingUserAgent, thread_client
from tracker.sources.edgar.sync import followed_organization_ids, organization_sync

logger = logging.getLogger(__name__)

_LATE_ACK = {"acks_late": True, "reject_on_worker_lost": True}


@contextlib.contextmanager
def _counted(name: str):
    """Count the run of periodic work in the database (TaskRun): /readyz and /metrics read
    the figures of every worker there."""
    try:
        yield
    except Exception as error:
        task_run_record(name=name, error=f"{type(error).__name__}: {error}")
        raise
    task_run_record(name=name)


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
    """Send one digest (an email or a chat message) if it is due and unclaimed."""
    return digests.digest_send(digest_id=digest_id)


@shared_task
def alerts_sweep() -> dict:
    """Reclaim dead workers' claims and queue whatever is undispatched or due. Its last run
    is beat's heartbeat for /readyz."""
    with _counted("alerts_sweep"):
        return vars(sweep.alerts_sweep())


@shared_task
def reminders_scan() -> int:
    """Record today's "deadline approaching" and "overdue" events (each fires once)."""
    with _counted("reminders_scan"):
        return len(reminders.reminders_scan())


@shared_task
def digests_build(cadence: str) -> int:
    """Build and send the last period's digests for ``cadence`` ("daily" or "weekly") of
    the subscribers for whom it is now the digest hour in their own time zone (beat runs
    this hourly)."""
    digest_ids = digests.digests_build(cadence=cadence, at_digest_hour=True)
    for digest_id in digest_ids:
        digests.digest_send(digest_id=digest_id)
    return len(digest_ids)


@shared_task
def deliveries_prune() -> dict:
    """Delete finished deliveries and attempts older than ALERTS_DELIVERY_RETENTION_DAYS, in
    batches (events are kept)."""
    return vars(retention.deliveries_prune())


@shared_task
def edgar_sync() -> int:
    """Queue one sync per organization that follows EDGAR (the safety net of the feed)."""
    return _edgar_syncs_queue(followed_organization_ids())


def _edgar_syncs_queue(organization_ids: list[int], countdown: int = 0) -> int:
    # With many followed companies a round takes longer than the interval at EDGAR's rate
    # (10,000 at 10/s: 17 minutes): each task expires when the next round is queued, so
    # rounds never pile up, and the order is shuffled so that the companies one round did
    # not reach are as likely as any to be reached by the next.
    organization_ids = list(organization_ids)
    random.shuffle(organization_ids)
    for organization_id in organization_ids:
        edgar_sync_organization.apply_async(
            (organization_id,), countdown=countdown, expires=settings.EDGAR_SYNC_INTERVAL
        )
    return len(organization_ids)


@shared_task
def edgar_sync_organization(organization_id: int) -> str:
    """Sync one organization with EDGAR; returns what it found, or why it failed."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None or not organization.cik:
        return "gone"
    try:
        client = thread_client()
    except MissingUserAgent as error:
        logger.error("EDGAR sync skipped: %s", error)
        return str(error)
    outcome = organization_sync(organization=organization, client=client)
    # A failed sync is recorded on the organization and returned, not raised.
    task_run_record(name="edgar_sync", error=outcome.message if outcome.status == "failed" else "")
    return outcome.message


@shared_task
def edgar_feed_poll() -> int:
    """Read EDGAR's current-filings feed and sync the followed companies in it; when the
    feed moved on further than the pages read, queue a sync of every followed company.

    The companies in the feed are synced here rather than queued, so that a new filing is
    not queued behind a full sync's thousands of tasks (this task runs on the periodic queue,
    a round's syncs on the sources queue).
    """
    with _counted("edgar_feed_poll"):
        try:
            result = edgar_feed.feed_round(queue=_edgar_syncs_queue)
        except MissingUserAgent as error:
            logger.error("EDGAR feed poll skipped: %s", error)
            return 0
        return len(result.organization_ids)
