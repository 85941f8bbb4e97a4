"""Reads for alerts: which subscriptions an event reaches, and one user's subscriptions,
webhook endpoints and deliveries. The per-user lists take the owner, so nobody can list
someone else's rows by accident."""

from django.db.models import Exists, F, OuterRef, Q, QuerySet

from tracker.models import Delivery, Event, Subscription, WebhookEndpoint
from tracker.models.alerts import Channel


def subscription_list(*, owner) -> QuerySet[Subscription]:
    """The owner's subscriptions with their organization and process filters prefetched."""
    return (
        Subscription.objects.filter(owner=owner)
        .select_related("owner")
        .prefetch_related("organizations", "processes")
    )


def endpoint_list(*, owner) -> QuerySet[WebhookEndpoint]:
    """The owner's webhook endpoints."""
    return WebhookEndpoint.objects.filter(owner=owner)


def delivery_list(*, owner) -> QuerySet[Delivery]:
    """Deliveries to the owner's subscriptions and endpoints, newest first, with their
    event's feed sequence and their attempts."""
    return (
        Delivery.objects.filter(owner=owner)
        .annotate(event_sequence=F("event__sequence"))
        .prefetch_related("attempts")
        .order_by("-id")
    )


def subscriptions_matching(*, event: Event) -> list[Subscription]:
    """Active subscriptions whose filters all accept ``event`` (an empty filter accepts all).

    A milestone-kind filter only accepts milestone events of those kinds, so a subscription
    to filings hears nothing about processes. Left out: subscriptions created after the
    event was stamped into the feed (they hear only what happens after they exist, however
    late the event is dispatched), those of deactivated owners, webhook subscriptions of
    disabled endpoints and email subscriptions of owners with no address.
    """
    through_org = Subscription.organizations.through.objects.filter(subscription_id=OuterRef("pk"))
    through_process = Subscription.processes.through.objects.filter(subscription_id=OuterRef("pk"))
    candidates = (
        Subscription.objects.filter(
            active=True, owner__is_active=True, starts_after_sequence__lt=event.sequence
        )
        .filter((Q(channel=Channel.EMAIL) & ~Q(owner__email="")) | Q(endpoint__enabled=True))
        .filter(
            ~Exists(through_org) | Exists(through_org.filter(organization_id=event.organization_id))
        )
        .filter(
            ~Exists(through_process) | Exists(through_process.filter(process_id=event.process_id))
        )
        .select_related("endpoint", "owner")
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
