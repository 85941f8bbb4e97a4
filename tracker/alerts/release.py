"""Keeping subscriptions true when the record they filter on is deleted.

A subscription's organization and process filters are many-to-many rows that the database
deletes with the organization or process. Left alone, that would (1) fan the deletion's own
events out after the rows are gone, so the people who followed that process would not hear
that it was deleted, and (2) leave a subscription whose only filter was that row with an
empty filter, which means "everything". The record's delete services call these functions
inside their transaction, before the row goes.
"""

from django.db import transaction
from django.db.models import Count, F

from tracker.models import Event, Organization, Process, Subscription

from . import dispatch, queue


def subscriptions_release_process(*, process: Process) -> None:
    """Fan out the process's undispatched events now, then stop subscriptions that followed
    only this process (they would otherwise widen to every process)."""
    pending: list[int] = []
    undispatched = Event.objects.filter(process_id=process.pk, dispatched_at__isnull=True)
    for event_id in undispatched.order_by("id").values_list("pk", flat=True):
        # Nothing is claimed for sending here: sending waits for the commit.
        pending += dispatch.event_dispatch(event_id=event_id, claim_at_dispatch=0).pending_ids
    if pending:
        transaction.on_commit(lambda: queue.deliveries_send_enqueue(pending))
    _deactivate_if_only(Subscription.processes.through, "process_id", process.pk)


def subscriptions_release_organization(*, organization: Organization) -> None:
    """Stop subscriptions that followed only this organization (an organization is deleted
    only once it has no processes, so it has no events left to fan out)."""
    _deactivate_if_only(Subscription.organizations.through, "organization_id", organization.pk)


def _deactivate_if_only(through, column: str, pk: int) -> None:
    following = through.objects.filter(**{column: pk}).values("subscription_id")
    only_this = (
        through.objects.filter(subscription_id__in=following)
        .values("subscription_id")
        .annotate(filters=Count("id"))
        .filter(filters=1)
        .values("subscription_id")
    )
    Subscription.objects.filter(pk__in=only_this, active=True).update(
        active=False, version=F("version") + 1
    )
