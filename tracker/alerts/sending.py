"""Sending deliveries: claim, send concurrently, record every attempt, schedule retries.

Only network I/O runs in the worker threads; claims and results are written by the calling
thread in batches, so the bookkeeping costs a few queries per batch rather than per
delivery. A delivery is claimed (status "sending") only when a thread is free to send it at
once, so no claim is older than one send's total timeout unless its worker died; the sweep
reclaims those.
"""

import datetime
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tracker.models import WebhookEndpoint
from tracker.models.alerts import Channel, Delivery, DeliveryAttempt, DeliveryStatus

from . import messages, transports
from .services import deliveries_cancel_for_endpoint

logger = logging.getLogger(__name__)

RESPONSE_KEEP_CHARS = 4096


@dataclass
class SendReport:
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0


def retry_delay(attempts_made: int) -> datetime.timedelta | None:
    """How long to wait after ``attempts_made`` failed attempts; None when there are no
    retries left. Spread by ``WEBHOOK_RETRY_JITTER`` either way."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if attempts_made >= len(schedule):
        return None
    jitter = settings.WEBHOOK_RETRY_JITTER
    seconds = schedule[attempts_made] * (1 + random.uniform(-jitter, jitter))
    return datetime.timedelta(seconds=max(0.0, seconds))


def deliveries_send(*, delivery_ids: Iterable[int]) -> SendReport:
    """Send the given deliveries that are due and not claimed by someone else.

    Safe to run twice: a delivery is only sent by whoever claims it (pending or retrying,
    due), so a second run over the same ids sends nothing.
    """
    waiting = deque(sorted(set(delivery_ids)))
    report = SendReport()
    capacity = max(1, settings.ALERTS_SEND_CONCURRENCY)
    if not waiting:
        return report
    if len(waiting) == 1:
        for delivery, job in _claim([waiting.popleft()], report):
            _record([(delivery, job())], report)
        return report
    with ThreadPoolExecutor(
        max_workers=min(capacity, len(waiting)), thread_name_prefix="alerts-send"
    ) as executor:
        in_flight: dict[Future, Delivery] = {}
        while waiting or in_flight:
            free = capacity - len(in_flight)
            if waiting and free > 0:
                batch = [waiting.popleft() for _ in range(min(free, len(waiting)))]
                for delivery, job in _claim(batch, report):
                    in_flight[executor.submit(job)] = delivery
                if waiting and len(in_flight) < capacity:
                    continue  # some were not claimable; fill the free threads first
            if not in_flight:
                continue
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            _record([(in_flight.pop(future), future.result()) for future in done], report)
    return report


def _claim(ids: list[int], report: SendReport) -> list[tuple[Delivery, Callable]]:
    """Claim the due ones among ``ids`` (conditional UPDATE under row locks) and prepare
    their messages. Deliveries whose subscription was turned off or whose endpoint was
    disabled are cancelled instead."""
    now = timezone.now()
    with transaction.atomic():
        rows = list(
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(pk__in=ids, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING])
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .select_related("event", "endpoint", "subscription", "subscription__owner")
        )
        cancelled = [d.pk for d in rows if not _still_wanted(d)]
        claimed = [d for d in rows if d.pk not in cancelled]
        if cancelled:
            Delivery.objects.filter(pk__in=cancelled).update(
                status=DeliveryStatus.CANCELLED, completed_at=now, next_attempt_at=None
            )
            report.cancelled += len(cancelled)
        Delivery.objects.filter(
            pk__in=[d.pk for d in claimed],
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING],
        ).update(status=DeliveryStatus.SENDING, claimed_at=now)
    jobs = []
    for delivery in claimed:
        try:
            jobs.append((delivery, _prepare(delivery, now)))
        except Exception:
            # A message that cannot even be built (a template error) must not stay
            # "sending" forever; it is recorded as a failed attempt like any other.
            logger.exception("Could not build the message of delivery %s", delivery.pk)
            error = transports.Outcome(attempted_at=now, error="Could not build the message.")
            jobs.append((delivery, lambda error=error: error))
    return jobs


def _still_wanted(delivery: Delivery) -> bool:
    if delivery.subscription is not None and not delivery.subscription.active:
        return False
    return delivery.endpoint is None or delivery.endpoint.enabled


def _prepare(delivery: Delivery, now: datetime.datetime) -> Callable[[], transports.Outcome]:
    if delivery.channel == Channel.WEBHOOK:
        message = transports.WebhookMessage(
            url=delivery.endpoint.url,
            message_id=delivery.message_id,
            body=messages.webhook_body(delivery),
            secrets=messages.endpoint_signing_secrets(delivery.endpoint, now),
        )
        return lambda: transports.webhook_send(message)
    email = messages.email_for_delivery(delivery)
    return lambda: transports.email_send(email)


def _record(results: list[tuple[Delivery, transports.Outcome]], report: SendReport) -> None:
    """Write the attempts and the deliveries' new state; update the endpoints' health."""
    now = timezone.now()
    attempts = []
    for delivery, outcome in results:
        attempts.append(
            DeliveryAttempt(
                delivery=delivery,
                attempted_at=outcome.attempted_at,
                duration_ms=outcome.duration_ms,
                http_status=outcome.http_status,
                response_body=outcome.response_body[:RESPONSE_KEEP_CHARS],
                error=outcome.error,
                succeeded=outcome.succeeded,
            )
        )
        delivery.attempt_count += 1
        delivery.claimed_at = None
        delay = None if outcome.permanent else retry_delay(delivery.attempt_count)
        if outcome.succeeded:
            delivery.status = DeliveryStatus.SUCCEEDED
            delivery.completed_at, delivery.next_attempt_at = now, None
            report.succeeded += 1
        elif delay is None:
            delivery.status = DeliveryStatus.FAILED
            delivery.completed_at, delivery.next_attempt_at = now, None
            report.failed += 1
        else:
            delivery.status = DeliveryStatus.RETRYING
            delivery.next_attempt_at = now + delay
        report.sent += 1
    disabled: list[WebhookEndpoint] = []
    with transaction.atomic():
        DeliveryAttempt.objects.bulk_create(attempts)
        Delivery.objects.bulk_update(
            [delivery for delivery, _ in results],
            ["status", "attempt_count", "claimed_at", "completed_at", "next_attempt_at"],
        )
        disabled = _endpoint_health(results, now)
    for endpoint in disabled:
        _notify_owner(endpoint)


def _endpoint_health(
    results: list[tuple[Delivery, transports.Outcome]], now: datetime.datetime
) -> list[WebhookEndpoint]:
    """Track failure streaks; disable endpoints that answered 410 or failed for too long."""
    ok, failing, gone = set(), set(), set()
    for delivery, outcome in results:
        if delivery.endpoint_id is None:
            continue
        if outcome.succeeded:
            ok.add(delivery.endpoint_id)
        else:
            failing.add(delivery.endpoint_id)
        if outcome.gone:
            gone.add(delivery.endpoint_id)
    failing -= ok
    if ok:
        WebhookEndpoint.objects.filter(pk__in=ok, failing_since__isnull=False).update(
            failing_since=None
        )
    if failing:
        WebhookEndpoint.objects.filter(pk__in=failing, failing_since__isnull=True).update(
            failing_since=now
        )
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


def _notify_owner(endpoint: WebhookEndpoint) -> None:
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
