"""Writes to subscriptions, webhook endpoints and deliveries."""

from django.db.models import F

from tracker.models import Subscription


def subscription_unsubscribe(*, subscription: Subscription) -> Subscription:
    """Turn a subscription off (the one-click unsubscribe); running it twice is harmless."""
    Subscription.objects.filter(pk=subscription.pk, active=True).update(
        active=False, version=F("version") + 1
    )
    subscription.refresh_from_db()
    return subscription
