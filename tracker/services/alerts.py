"""Writes to subscriptions, webhook endpoints and deliveries.

Each public function is one transaction; work for the worker is queued only after commit.
They raise Django's ValidationError (a field dict where a field is to blame) for bad input
and ConcurrentUpdateError when ``expected_version`` is stale.
"""

import datetime
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, Max, OuterRef, Q
from django.utils import timezone

from tracker.alerts import queue
from tracker.alerts.guard import url_problem
from tracker.alerts.signing import secret_generate
from tracker.models import (
    Event,
    EventType,
    MilestoneKind,
    Organization,
    Process,
    Subscription,
    WebhookEndpoint,
)
from tracker.models.alerts import (
    ENDPOINT_CHANNELS,
    TEST_EVENT_TYPE,
    Cadence,
    Channel,
    Delivery,
    DeliveryStatus,
)

from .events import events_sequence_stamp
from .rows import refuse_unknown_fields, row_lock

_SUBSCRIPTION_FIELDS = {
    "name",
    "channel",
    "email",
    "endpoint",
    "endpoint_id",
    "cadence",
    "active",
    "milestone_kinds",
    "event_types",
}
_ENDPOINT_FIELDS = {"channel", "url", "description", "enabled"}


def message_id_new() -> str:
    """A fresh Standard Webhooks message id (``webhook-id``)."""
    return f"msg_{uuid.uuid4().hex}"


def _feed_position() -> int:
    """The feed's last sequence, once every event committed so far has one: a subscription
    starting here hears exactly the events stamped after it (see
    ``events_sequence_stamp``), however late they are dispatched."""
    events_sequence_stamp()
    return Event.objects.aggregate(last=Max("sequence"))["last"] or 0


# --- Subscriptions ---------------------------------------------------------------------


def subscription_create(
    *,
    owner,
    data: Mapping[str, Any],
    organizations: Iterable[Organization] = (),
    processes: Iterable[Process] = (),
) -> Subscription:
    """Create a subscription for ``owner``; filters left empty mean "everything".

    An email subscription goes to the owner's own (verified) account address, as it is when
    each email is sent; a webhook subscription names one of the owner's webhook endpoints
    and is always immediate; a Slack or Teams subscription names one of the owner's
    endpoints of that channel, immediate or as daily or weekly digests. It hears only
    events committed after it was created, even those dispatched late (after a broker
    outage).
    """
    refuse_unknown_fields(data, _SUBSCRIPTION_FIELDS)
    subscription = Subscription(owner=owner)
    _apply_subscription_data(subscription, data)
    subscription.starts_after_sequence = _feed_position()
    with transaction.atomic():
        subscription.full_clean()
        subscription.save()
        subscription.organizations.set(list(organizations))
        subscription.processes.set(list(processes))
    return subscription


def subscription_update(
    *,
    subscription: Subscription,
    data: Mapping[str, Any],
    organizations: Iterable[Organization] | None = None,
    processes: Iterable[Process] | None = None,
    expected_version: int | None = None,
) -> Subscription:
    """Change a subscription's filters, channel or cadence.

    Switching a digest subscription to "immediate" releases what it was holding for the next
    digest, so nothing is silently dropped (except what the owner's address already got
    immediately through another subscription). Turning a subscription back on starts it
    afresh: it hears what happens from then on.
    """
    refuse_unknown_fields(data, _SUBSCRIPTION_FIELDS)
    with transaction.atomic():
        current = row_lock(
            Subscription, subscription.pk, expected_version=expected_version, label="subscription"
        )
        was_active = current.active
        _apply_subscription_data(current, data)
        if current.active and not was_active:
            current.starts_after_sequence = _feed_position()
        current.full_clean()
        current.version += 1
        current.save()
        if organizations is not None:
            current.organizations.set(list(organizations))
        if processes is not None:
            current.processes.set(list(processes))
        if current.cadence == Cadence.IMMEDIATE:
            held = Delivery.objects.filter(
                subscription=current, status=DeliveryStatus.HELD, digest__isnull=True
            )
            # Once per event and address (email) or endpoint (chat): an event the owner was
            # already sent immediately (or is being) is not sent again.
            sent = Delivery.objects.filter(event=OuterRef("event"), digest__isnull=True).exclude(
                status__in=[DeliveryStatus.HELD, DeliveryStatus.CANCELLED]
            )
            for held_here, already, where in (
                (
                    held.filter(channel=Channel.EMAIL),
                    sent.filter(owner=OuterRef("owner"), channel=Channel.EMAIL),
                    "address",
                ),
                (
                    held.filter(endpoint__isnull=False),
                    sent.filter(endpoint=OuterRef("endpoint")),
                    "endpoint",
                ),
            ):
                held_here.filter(Exists(already)).update(
                    status=DeliveryStatus.CANCELLED,
                    completed_at=timezone.now(),
                    cancelled_reason=f"Already sent immediately to the same {where}.",
                )
            released = list(held.values_list("pk", flat=True))
            if released:
                Delivery.objects.filter(pk__in=released).update(
                    status=DeliveryStatus.PENDING, next_attempt_at=timezone.now()
                )
                transaction.on_commit(lambda: queue.deliveries_send_enqueue(released))
    return current


def subscription_delete(*, subscription: Subscription, expected_version: int | None = None) -> None:
    """Delete a subscription with its deliveries and their log; refuses a stale
    ``expected_version`` with ConcurrentUpdateError."""
    with transaction.atomic():
        row_lock(
            Subscription, subscription.pk, expected_version=expected_version, label="subscription"
        )
        Subscription.objects.filter(pk=subscription.pk).delete()


def subscription_unsubscribe(*, subscription: Subscription) -> Subscription:
    """Turn a subscription off (the one-click unsubscribe); running it twice is harmless."""
    Subscription.objects.filter(pk=subscription.pk, active=True).update(
        active=False, version=F("version") + 1
    )
    subscription.refresh_from_db()
    return subscription


def subscription_follow(
    *,
    owner,
    data: Mapping[str, Any],
    organization: Organization | None = None,
    process: Process | None = None,
) -> Subscription:
    """Follow one organization or one process (the "Follow" button on its page): a
    subscription whose only link is that one, sent as ``data`` says (channel, cadence,
    endpoint, event types)."""
    if (organization is None) == (process is None):
        raise ValidationError("Follow either an organization or a process.")
    target = organization if organization is not None else process
    named = {"name": f"Follow {target}"[:100], **data}
    return subscription_create(
        owner=owner,
        data=named,
        organizations=[organization] if organization is not None else [],
        processes=[process] if process is not None else [],
    )


def subscription_unfollow(*, subscriptions: Iterable[Subscription]) -> int:
    """Delete the given follows (``subscriptions_following``'s answer) in one transaction;
    returns how many."""
    with transaction.atomic():
        _, deleted = Subscription.objects.filter(pk__in=[s.pk for s in subscriptions]).delete()
    return deleted.get(Subscription._meta.label, 0)


def _apply_subscription_data(subscription: Subscription, data: Mapping[str, Any]) -> None:
    errors: dict[str, str] = {}
    was_email = subscription.channel == Channel.EMAIL
    # Email goes to the owner's account address, which is not stored on the subscription;
    # an address given here is only checked against it.
    requested_email = str(data.get("email") or "").strip()
    for name, value in data.items():
        if name == "email":
            continue
        if name == "endpoint_id":
            name, value = (
                "endpoint",
                (WebhookEndpoint.objects.filter(pk=value).first() if value is not None else None),
            )
            if data.get("endpoint_id") is not None and value is None:
                errors["endpoint"] = "No such webhook endpoint."
                continue
        if name in ("milestone_kinds", "event_types"):
            value = _choice_list(name, value, errors)
        setattr(subscription, name, value)
    if subscription.channel == Channel.EMAIL:
        subscription.endpoint = None
        owner_email = (subscription.owner.email or "").strip()
        if not owner_email and not was_email:
            # Checked when a subscription becomes an email one, so that one made earlier
            # stays editable whatever happens to the owner's address since.
            errors["email"] = "Your account has no email address; add one before subscribing."
        elif requested_email and requested_email.lower() != owner_email.lower():
            # Mail only goes to the address on the owner's account, the one that is verified,
            # so a subscription cannot be used to send alerts to a stranger.
            errors["email"] = "Email alerts go to your account's address, " + owner_email + "."
    elif subscription.channel in ENDPOINT_CHANNELS:
        endpoint = subscription.endpoint
        if endpoint is not None and endpoint.owner_id != subscription.owner_id:
            errors["endpoint"] = "No such webhook endpoint."
        elif endpoint is not None and endpoint.channel != subscription.channel:
            errors["endpoint"] = (
                f"This is a {endpoint.get_channel_display()} endpoint; a "
                f"{subscription.get_channel_display()} subscription needs one of your "
                f"{subscription.get_channel_display()} endpoints."
            )
        if subscription.channel == Channel.WEBHOOK and subscription.cadence != Cadence.IMMEDIATE:
            errors["cadence"] = "Webhook subscriptions are always immediate."
    if errors:
        raise ValidationError(errors)


def _choice_list(name: str, value: Any, errors: dict) -> list[str]:
    allowed = MilestoneKind.values if name == "milestone_kinds" else EventType.values
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Iterable):
        errors[name] = "Give a list."
        return []
    values = [str(v) for v in value]
    unknown = [v for v in values if v not in allowed]
    if unknown:
        errors[name] = f"Unknown: {', '.join(unknown)}. Known: {', '.join(allowed)}."
    return sorted(set(values))


# --- Webhook endpoints -----------------------------------------------------------------


def endpoint_create(*, owner, data: Mapping[str, Any]) -> WebhookEndpoint:
    """Create an endpoint with a fresh signing secret (``.secret``, to be shown once).

    ``channel`` is "webhook" (the default), "slack" or "teams"; a chat endpoint's URL must
    have that service's own shape (tracker.validators.chat_url_problem). A URL whose scheme
    or literal IP address the SSRF guard refuses is rejected here; a host name is only
    checked when it is connected to, since its DNS answer can change.
    """
    refuse_unknown_fields(data, _ENDPOINT_FIELDS)
    endpoint = WebhookEndpoint(owner=owner, secret=secret_generate())
    for name, value in data.items():
        setattr(endpoint, name, value)
    if not endpoint.enabled:
        endpoint.disabled_reason = "Disabled by its owner."
        endpoint.disabled_at = timezone.now()
    _validate_endpoint(endpoint)
    with transaction.atomic():
        endpoint.save()
    return endpoint


def endpoint_update(
    *, endpoint: WebhookEndpoint, data: Mapping[str, Any], expected_version: int | None = None
) -> WebhookEndpoint:
    """Change an endpoint's URL, description or enabled flag (its channel is fixed: its
    subscriptions and deliveries are of that channel).

    Re-enabling clears why it was disabled and its failure streak; disabling it cancels the
    deliveries still waiting to go to it.
    """
    refuse_unknown_fields(data, _ENDPOINT_FIELDS)
    with transaction.atomic():
        current = row_lock(
            WebhookEndpoint,
            endpoint.pk,
            expected_version=expected_version,
            label="webhook endpoint",
        )
        was_enabled = current.enabled
        if "channel" in data and data["channel"] != current.channel:
            raise ValidationError(
                {"channel": "An endpoint's channel cannot change; add a new endpoint instead."}
            )
        for name, value in data.items():
            setattr(current, name, value)
        if current.enabled and not was_enabled:
            current.disabled_reason = ""
            current.disabled_at = None
            current.failing_since = None
            current.consecutive_failures, current.paused_until = 0, None  # the breaker too
        elif was_enabled and not current.enabled:
            current.disabled_reason = "Disabled by its owner."
            current.disabled_at = timezone.now()
            deliveries_cancel_for_endpoint(endpoint=current)
        _validate_endpoint(current)
        current.version += 1
        current.save()
    return current


def endpoint_delete(*, endpoint: WebhookEndpoint, expected_version: int | None = None) -> None:
    """Delete an endpoint with its subscriptions and deliveries; refuses a stale
    ``expected_version`` with ConcurrentUpdateError."""
    with transaction.atomic():
        row_lock(
            WebhookEndpoint,
            endpoint.pk,
            expected_version=expected_version,
            label="webhook endpoint",
        )
        WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


def endpoint_rotate_secret(*, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Issue a new secret (on ``.secret``, to be shown once); the old one keeps signing for
    ``WEBHOOK_SECRET_GRACE_HOURS`` so the receiver can switch without dropping messages."""
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        current.previous_secret = current.secret
        current.previous_secret_expires_at = timezone.now() + datetime.timedelta(
            hours=settings.WEBHOOK_SECRET_GRACE_HOURS
        )
        current.secret = secret_generate()
        current.version += 1
        current.save()
    return current


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> Delivery:
    """Send a ``webhook.test`` message to the endpoint through the normal pipeline (signed,
    or in the chat's format, retried and logged like any delivery)."""
    if not endpoint.enabled:
        raise ValidationError("This endpoint is disabled; enable it before sending a test.")
    if not endpoint.owner.is_active:
        raise ValidationError("The owner of this endpoint is deactivated.")
    with transaction.atomic():
        delivery = Delivery.objects.create(
            owner_id=endpoint.owner_id,
            channel=endpoint.channel,
            endpoint=endpoint,
            event_type=TEST_EVENT_TYPE,
            message_id=message_id_new(),
            next_attempt_at=timezone.now(),
        )
        transaction.on_commit(lambda: queue.deliveries_send_enqueue([delivery.pk]))
    return delivery


# --- Deliveries ------------------------------------------------------------------------


def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Send a delivery again, as a new round of attempts, with the same ``webhook-id``."""
    with transaction.atomic():
        current = (
            Delivery.objects.select_for_update(of=("self",))
            .select_related("endpoint", "subscription", "owner")
            .get(pk=delivery.pk)
        )
        if current.status == DeliveryStatus.SENDING:
            raise ValidationError("This delivery is being sent right now.")
        if current.status == DeliveryStatus.HELD:
            raise ValidationError("This delivery is waiting for its digest.")
        if current.endpoint is not None and not current.endpoint.enabled:
            raise ValidationError("Its webhook endpoint is disabled; enable it first.")
        if current.subscription is not None and not current.subscription.active:
            raise ValidationError("Its subscription is turned off.")
        if not current.owner.is_active:
            raise ValidationError("Its owner is deactivated.")
        if current.status == DeliveryStatus.CANCELLED and _sent_otherwise(current):
            raise ValidationError(
                "This change went to the same address or endpoint by another delivery."
            )
        restart = _new_round()
        for name, value in restart.items():
            setattr(current, name, value)
        current.save(update_fields=list(restart))
        transaction.on_commit(lambda: queue.deliveries_send_enqueue([current.pk]))
    return current


def deliveries_redeliver_failed(*, endpoint: WebhookEndpoint, since: datetime.datetime) -> int:
    """Send again everything to ``endpoint`` that failed since ``since`` (after an outage),
    each as a new round with the same ``webhook-id``; returns how many were queued.

    Deliveries whose subscription has been turned off since are left alone.
    """
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        if not current.enabled:
            raise ValidationError("This endpoint is disabled; enable it first.")
        if not current.owner.is_active:
            raise ValidationError("The owner of this endpoint is deactivated.")
        failed = Delivery.objects.filter(
            endpoint=current, status=DeliveryStatus.FAILED, created_at__gte=since
        ).exclude(subscription__active=False)
        ids = list(failed.select_for_update(of=("self",)).values_list("pk", flat=True))
        if ids:
            Delivery.objects.filter(pk__in=ids).update(**_new_round())
            transaction.on_commit(lambda: queue.deliveries_send_enqueue(ids))
    return len(ids)


def deliveries_cancel_for_endpoint(*, endpoint: WebhookEndpoint) -> int:
    """Cancel what is still waiting to go to an endpoint that was disabled."""
    return Delivery.objects.filter(
        endpoint=endpoint, status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING]
    ).update(
        status=DeliveryStatus.CANCELLED,
        completed_at=timezone.now(),
        next_attempt_at=None,
        cancelled_reason="Its webhook endpoint was disabled.",
    )


def deliveries_cancel_for_owner(*, owner) -> int:
    """Cancel everything still waiting to go to a deactivated user's subscriptions and
    endpoints (due, retrying, or held for a digest); returns how many.

    Called when the user is deactivated. The sending side refuses a deactivated owner's
    deliveries too, and dispatch matches none of their subscriptions, so a user deactivated
    some other way (the shell, a directory sync) hears nothing either.
    """
    return Delivery.objects.filter(
        owner=owner,
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.RETRYING, DeliveryStatus.HELD],
    ).update(
        status=DeliveryStatus.CANCELLED,
        completed_at=timezone.now(),
        next_attempt_at=None,
        cancelled_reason="Its owner's account was deactivated.",
    )


# --- Helpers ---------------------------------------------------------------------------


def _new_round() -> dict[str, Any]:
    # A redelivery: a fresh round of attempts, due now, keeping its webhook-id.
    return {
        "status": DeliveryStatus.PENDING,
        "attempt_count": 0,
        "next_attempt_at": timezone.now(),
        "claimed_at": None,
        "completed_at": None,
        "cancelled_reason": "",
    }


def _sent_otherwise(delivery: Delivery) -> bool:
    # A cancelled immediate email or chat message may have been replaced by one released
    # from a digest (subscription_update): once per event and address or endpoint.
    if delivery.event_id is None or delivery.digest_id is not None:
        return False
    if delivery.channel == Channel.EMAIL:
        same = Q(owner_id=delivery.owner_id, channel=Channel.EMAIL)
    else:
        same = Q(endpoint_id=delivery.endpoint_id)
    return (
        Delivery.objects.filter(same, event_id=delivery.event_id, digest__isnull=True)
        .exclude(pk=delivery.pk)
        .exclude(status__in=[DeliveryStatus.HELD, DeliveryStatus.CANCELLED])
        .exists()
    )


def _validate_endpoint(endpoint: WebhookEndpoint) -> None:
    endpoint.full_clean()
    problem = url_problem(endpoint.url)
    if problem:
        raise ValidationError({"url": problem})
