"""Reads for alerts: which subscriptions an event reaches, and one user's subscriptions,
webhook endpoints and deliveries. The per-user lists take the owner, so nobody can list
someone else's rows by accident."""

import datetime

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KT

from tracker.models import Delivery, Event, Organization, Process, Subscription, WebhookEndpoint
from tracker.models.alerts import (
    Channel,
    DeliveryAttempt,
    SubscriptionOrganization,
    SubscriptionProcess,
)


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


def endpoint_health_list(*, owner) -> QuerySet[WebhookEndpoint]:
    """The owner's endpoints with ``last_success_at``, the time of their last successful
    attempt (None when none succeeded or the attempts were pruned)."""
    succeeded = DeliveryAttempt.objects.filter(
        delivery__endpoint=OuterRef("pk"), succeeded=True
    ).order_by("-attempted_at")
    return endpoint_list(owner=owner).annotate(
        last_success_at=Subquery(succeeded.values("attempted_at")[:1])
    )


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
    disabled endpoints and email subscriptions of owners with no address. Only the columns
    dispatch reads are loaded.
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
        .order_by("id")
        # What dispatch reads: a fan-out loads thousands, and every column costs.
        .only("owner_id", "channel", "endpoint_id", "cadence", "event_types", "milestone_kinds")
    )
    kind = (event.snapshot.get("milestone") or {}).get("kind")
    # The JSON list filters are checked here rather than in SQL so that SQLite (the demo)
    # and PostgreSQL behave the same.
    return [
        subscription
        for subscription in candidates
        if subscription_accepts(subscription, event_type=event.type, milestone_kind=kind)
    ]


def subscription_accepts(
    subscription: Subscription, *, event_type: str, milestone_kind: str | None
) -> bool:
    """Whether the subscription's filters on what happened (event types, milestone kinds)
    accept it; an empty filter accepts everything, and a kind filter accepts only
    milestone events of those kinds."""
    return (not subscription.event_types or event_type in subscription.event_types) and (
        not subscription.milestone_kinds or milestone_kind in subscription.milestone_kinds
    )


def subscription_match_counts(
    *, subscriptions: list[Subscription], since: datetime.datetime
) -> dict[int, int]:
    """How many events since ``since`` each subscription's filters would have matched, by
    subscription id (a preview: whether it was active or existed then does not matter).

    The organization and process links are matched as ``subscriptions_matching`` does in
    SQL (no link: every one), and the rest by ``subscription_accepts``. Three queries (the
    organization links, the process links, the events), whatever the number of
    subscriptions.
    """
    counts = dict.fromkeys((s.pk for s in subscriptions), 0)
    if not subscriptions:
        return counts
    links = _link_ids(subscriptions)
    events = Event.objects.filter(occurred_at__gte=since)
    if all(links[s.pk][0] or links[s.pk][1] for s in subscriptions):
        # Every subscription names what it follows: read only those events.
        organization_ids = set().union(*(links[s.pk][0] for s in subscriptions))
        process_ids = set().union(*(links[s.pk][1] for s in subscriptions))
        events = events.filter(
            Q(organization_id__in=organization_ids) | Q(process_id__in=process_ids)
        )
    rows = events.values_list(
        "type", "organization_id", "process_id", KT("snapshot__milestone__kind")
    )
    for event_type, organization_id, process_id, kind in rows.iterator():
        for subscription in subscriptions:
            organizations, processes = links[subscription.pk]
            if (
                (not organizations or organization_id in organizations)
                and (not processes or process_id in processes)
                and subscription_accepts(subscription, event_type=event_type, milestone_kind=kind)
            ):
                counts[subscription.pk] += 1
    return counts


def _link_ids(subscriptions: list[Subscription]) -> dict[int, tuple[set[int], set[int]]]:
    # Read from the link tables, not the prefetched objects: a link outlives what it names.
    links: dict[int, tuple[set[int], set[int]]] = {s.pk: (set(), set()) for s in subscriptions}
    ids = list(links)
    for subscription_id, organization_id in SubscriptionOrganization.objects.filter(
        subscription_id__in=ids
    ).values_list("subscription_id", "organization_id"):
        links[subscription_id][0].add(organization_id)
    for subscription_id, process_id in SubscriptionProcess.objects.filter(
        subscription_id__in=ids
    ).values_list("subscription_id", "process_id"):
        links[subscription_id][1].add(process_id)
    return links


def subscriptions_following(
    *, owner, organization: Organization | None = None, process: Process | None = None
) -> QuerySet[Subscription]:
    """The owner's subscriptions that follow exactly this organization (and no process
    filter) or exactly this process: what "Follow" on its page made."""
    organization_links = Count("organization_links", distinct=True)
    process_links = Count("process_links", distinct=True)
    rows = (
        subscription_list(owner=owner)
        .select_related("endpoint")
        .annotate(n_organizations=organization_links, n_processes=process_links)
    )
    if process is not None:
        return rows.filter(n_organizations=0, n_processes=1, process_links__process=process)
    return rows.filter(
        n_organizations=1, n_processes=0, organization_links__organization=organization
    )


def endpoint_deliveries(*, endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    """An endpoint's delivery log, newest first, with every attempt (oldest first)."""
    return (
        Delivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related("attempts")
        .order_by("-id")
    )
