"""Reads of one user's alerts: their subscriptions, webhook endpoints and deliveries. Every
function takes the owner, so nobody can list someone else's rows by accident."""

from django.db.models import Q, QuerySet

from tracker.models import Delivery, Subscription, WebhookEndpoint


def subscription_list(*, owner) -> QuerySet[Subscription]:
    """The owner's subscriptions with their organization and process filters prefetched."""
    return Subscription.objects.filter(owner=owner).prefetch_related("organizations", "processes")


def endpoint_list(*, owner) -> QuerySet[WebhookEndpoint]:
    """The owner's webhook endpoints."""
    return WebhookEndpoint.objects.filter(owner=owner)


def delivery_list(*, owner) -> QuerySet[Delivery]:
    """Deliveries to the owner's subscriptions and endpoints (test deliveries have only an
    endpoint), newest first, with their attempts prefetched."""
    return (
        Delivery.objects.filter(
            Q(subscription__owner=owner) | Q(subscription__isnull=True, endpoint__owner=owner)
        )
        .prefetch_related("attempts")
        .order_by("-id")
    )
