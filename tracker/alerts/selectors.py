"""Reads for alerts."""

from django.db.models import Exists, OuterRef, Q

from tracker.models import Event, Subscription
from tracker.models.alerts import Channel


def subscriptions_matching(*, event: Event) -> list[Subscription]:
    """Active subscriptions whose filters all accept ``event`` (an empty filter accepts all).

    A milestone-kind filter only accepts milestone events of those kinds, so a subscription
    to filings hears nothing about processes. Webhook subscriptions of disabled endpoints
    are left out.
    """
    through_org = Subscription.organizations.through.objects.filter(subscription_id=OuterRef("pk"))
    through_process = Subscription.processes.through.objects.filter(subscription_id=OuterRef("pk"))
    candidates = (
        Subscription.objects.filter(active=True)
        .filter(Q(channel=Channel.EMAIL) | Q(endpoint__enabled=True))
        .filter(
            ~Exists(through_org) | Exists(through_org.filter(organization_id=event.organization_id))
        )
        .filter(
            ~Exists(through_process) | Exists(through_process.filter(process_id=event.process_id))
        )
        .select_related("endpoint")
        .order_by("id")
    )
    kind = (event.snapshot.get("milestone") or {}).get("kind")
    # The JSON list filters are checked here rather than in SQL so that SQLite (the demo)
    # and PostgreSQL behave the same.
    return [
        subscription
        for subscription in candidates
        if (not subscription.event_types or event.type in subscription.event_types)
        and (not subscription.milestone_kinds or kind in subscription.milestone_kinds)
    ]
