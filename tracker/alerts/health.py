"""Endpoint health: failure streaks, the circuit breaker, and disabling endpoints that are
gone (410; for Slack and Teams 404 too) or failed too long.

The breaker: after ``ALERTS_BREAKER_THRESHOLD`` failed attempts in a row an endpoint is
paused until its next retry time (the retry schedule's next step for each further failure),
so a dead or silent receiver stops taking senders from everyone else; its deliveries are not
claimed meanwhile (tracker.alerts.claims). When the pause ends, the claim lets at most
``ALERTS_ENDPOINT_CONCURRENCY`` deliveries through: a success closes the breaker, a failure
pauses the endpoint again, for the next step.

Called by tracker.alerts.recording inside the transaction that records the results, so an
endpoint's state always matches the attempts written.
"""

import datetime
import logging
from collections import Counter, defaultdict
from http import HTTPStatus

from django.conf import settings
from django.db import transaction
from django.db.models import F

from tracker.models import WebhookEndpoint
from tracker.services.alerts import deliveries_cancel_for_endpoint

from . import messages, transports

logger = logging.getLogger(__name__)


def endpoints_health_update(
    results: list[tuple[WebhookEndpoint | None, transports.Outcome]], now: datetime.datetime
) -> list[WebhookEndpoint]:
    """Track failure streaks and the breaker; disable endpoints that answered that they are
    gone (``Outcome.gone``) or failed for too long. Returns the endpoints disabled now
    (their owners are to be told)."""
    ok, gone = set(), {}
    failures: Counter[int] = Counter()
    for endpoint, outcome in results:
        if endpoint is None:
            continue
        if outcome.succeeded:
            # Only a streak needs ending; the common case (no streak) costs no query.
            if endpoint.failing_since is not None or endpoint.consecutive_failures:
                ok.add(endpoint.pk)
        else:
            failures[endpoint.pk] += 1
        if outcome.gone:
            gone[endpoint.pk] = outcome.http_status
    for pk in {e.pk for e, o in results if e is not None and o.succeeded}:
        failures.pop(pk, None)
    failing = set(failures)
    if ok or failing or gone:
        # Locked in the order the claims lock them (tracker.alerts.claims), so that a
        # claim and a recording that both touch two endpoints cannot deadlock.
        list(
            WebhookEndpoint.objects.select_for_update()
            .filter(pk__in=ok | failing | set(gone))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    if ok:
        WebhookEndpoint.objects.filter(pk__in=ok).update(
            failing_since=None, consecutive_failures=0, paused_until=None
        )
    if failing:
        WebhookEndpoint.objects.filter(pk__in=failing, failing_since__isnull=True).update(
            failing_since=now
        )
        _breaker_count(failures, now)
    if not failing and not gone:
        return []
    too_long = now - datetime.timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS)
    reasons = {
        pk: f"It answered {status} {HTTPStatus(status).phrase}." for pk, status in gone.items()
    }
    days = f"{settings.WEBHOOK_DISABLE_AFTER_DAYS:g}"
    for pk in WebhookEndpoint.objects.filter(
        pk__in=failing - set(gone), enabled=True, failing_since__lte=too_long
    ).values_list("pk", flat=True):
        reasons[pk] = f"Every delivery to it failed for {days} days."
    disabled = []
    for pk, reason in reasons.items():
        endpoint = endpoint_disable(endpoint_id=pk, reason=reason, now=now)
        if endpoint is not None:
            disabled.append(endpoint)
    return disabled


def _breaker_count(failures: Counter, now: datetime.datetime) -> None:
    """Add the failures to the endpoints' streaks; pause those at the threshold."""
    by_count = defaultdict(list)
    for pk, count in failures.items():
        by_count[count].append(pk)
    for count, pks in by_count.items():
        WebhookEndpoint.objects.filter(pk__in=pks).update(
            consecutive_failures=F("consecutive_failures") + count
        )
    threshold = settings.ALERTS_BREAKER_THRESHOLD
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    pauses = defaultdict(list)
    for pk, streak in WebhookEndpoint.objects.filter(
        pk__in=list(failures), consecutive_failures__gte=threshold
    ).values_list("pk", "consecutive_failures"):
        step = min(streak - threshold + 1, len(schedule) - 1)
        pauses[schedule[step]].append(pk)
    for seconds, pks in pauses.items():
        WebhookEndpoint.objects.filter(pk__in=pks).update(
            paused_until=now + datetime.timedelta(seconds=seconds)
        )
    if pauses:
        logger.info("Paused %d endpoints after repeated failures", sum(map(len, pauses.values())))


def endpoint_disable(
    *, endpoint_id: int, reason: str, now: datetime.datetime
) -> WebhookEndpoint | None:
    """Disable an endpoint (once) and cancel what waits for it; None if it already was."""
    with transaction.atomic():
        # A new version: an owner's edit from a page loaded before must not switch the
        # endpoint back on without seeing why it was disabled.
        changed = WebhookEndpoint.objects.filter(pk=endpoint_id, enabled=True).update(
            enabled=False, disabled_reason=reason, disabled_at=now, version=F("version") + 1
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
