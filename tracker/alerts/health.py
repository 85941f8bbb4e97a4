"""Endpoint health: failure streaks, and disabling endpoints that are gone or failed too long.

Called by tracker.alerts.recording inside the transaction that records the results, so an
endpoint's state always matches the attempts written.
"""

import datetime
import logging

from django.conf import settings
from django.db import transaction

from tracker.models import WebhookEndpoint
from tracker.models.alerts import Delivery

from . import messages, transports
from .services import deliveries_cancel_for_endpoint

logger = logging.getLogger(__name__)


def endpoints_health_update(
    results: list[tuple[Delivery, transports.Outcome]], now: datetime.datetime
) -> list[WebhookEndpoint]:
    """Track failure streaks; disable endpoints that answered 410 or failed for too long.
    Returns the endpoints disabled now (their owners are to be told)."""
    ok, failing, gone = set(), set(), set()
    for delivery, outcome in results:
        if delivery.endpoint_id is None:
            continue
        if outcome.succeeded:
            # Only a streak needs ending; the common case (no streak) costs no query.
            if delivery.endpoint.failing_since is not None:
                ok.add(delivery.endpoint_id)
        else:
            failing.add(delivery.endpoint_id)
        if outcome.gone:
            gone.add(delivery.endpoint_id)
    failing -= {d.endpoint_id for d, o in results if o.succeeded}
    if ok:
        WebhookEndpoint.objects.filter(pk__in=ok, failing_since__isnull=False).update(
            failing_since=None
        )
    if failing:
        WebhookEndpoint.objects.filter(pk__in=failing, failing_since__isnull=True).update(
            failing_since=now
        )
    if not failing and not gone:
        return []
    too_long = now - datetime.timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS)
    reasons = {pk: "It answered 410 Gone." for pk in gone}
    days = f"{settings.WEBHOOK_DISABLE_AFTER_DAYS:g}"
    for pk in WebhookEndpoint.objects.filter(
        pk__in=failing - gone, enabled=True, failing_since__lte=too_long
    ).values_list("pk", flat=True):
        reasons[pk] = f"Every delivery to it failed for {days} days."
    disabled = []
    for pk, reason in reasons.items():
        endpoint = endpoint_disable(endpoint_id=pk, reason=reason, now=now)
        if endpoint is not None:
            disabled.append(endpoint)
    return disabled


def endpoint_disable(
    *, endpoint_id: int, reason: str, now: datetime.datetime
) -> WebhookEndpoint | None:
    """Disable an endpoint (once) and cancel what waits for it; None if it already was."""
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True).update(
            enabled=False, disabled_reason=reason, disabled_at=now
        )
        if not changed:
            return None
        endpoint = WebhookEndpoint.objects.select_related("owner").get(pk=endpoint_id)
        deliveries_cancel_for_endpoint(endpoint=endpoint)
    return endpoint


def endpoint_owner_notify(endpoint: WebhookEndpoint) -> None:
    """Email the owner of a disabled endpoint why it was disabled (once, best effort)."""
    if not endpoint.owner.email:
        return
    outcome = transports.email_send(messages.email_for_endpoint_disabled(endpoint))
    if not outcome.succeeded:
        logger.warning(
            "Could not tell %s that endpoint %s was disabled: %s",
            endpoint.owner.email,
            endpoint.pk,
            outcome.error,
        )
