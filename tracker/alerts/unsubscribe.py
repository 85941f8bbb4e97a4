"""Signed, per-subscription unsubscribe tokens for the links in alert emails (RFC 8058).

The token works without login, so it is signed with the project's secret key and names
one subscription; it does not expire, as people unsubscribe from old mail too.
"""

from django.core import signing
from django.urls import reverse

from tracker.models import Subscription

_SALT = "tracker.alerts.unsubscribe"


def unsubscribe_token_make(subscription: Subscription) -> str:
    return signing.dumps({"s": subscription.pk}, salt=_SALT, compress=True)


def unsubscribe_token_read(token: str) -> Subscription | None:
    """The subscription a token names, or None when the token is forged or the row is gone."""
    try:
        data = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        return None
    return Subscription.objects.select_related("owner").filter(pk=data["s"]).first()


def unsubscribe_path(subscription: Subscription) -> str:
    """The site-relative path of the page (GET confirms, POST unsubscribes)."""
    return reverse("unsubscribe", args=[unsubscribe_token_make(subscription)])
