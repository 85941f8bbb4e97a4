"""Fan-out: turning one committed event into deliveries, exactly once."""

from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from tracker.models import Event, Subscription
from tracker.models.alerts import Cadence, Channel, Delivery, DeliveryStatus
from tracker.selectors.alerts import subscriptions_matching
from tracker.services.alerts import message_id_new
from tracker.services.events import events_sequence_stamp

from . import bulk


@dataclass
class Fanout:
    # Pending, to be claimed and sent (tracker.alerts.sending): the claim is where the
    # per-endpoint concurrency and the circuit breaker are enforced.
    pending_ids: list[int] = field(default_factory=list)


def event_dispatch(*, event_id: int) -> Fanout:
    """Claim the event and create its deliveries (see ``recipients``); return what to send
    now.

    The claim (``dispatched_at`` set by a conditional UPDATE) and the deliveries commit
    together, so a crash loses neither: before the commit the event is still undispatched
    for the sweep; after it the deliveries are pending. A second run finds the event claimed
    and does nothing.

    The event gets its feed sequence first (in a transaction of its own, so that stamping
    never waits for a fan-out): webhooks carry it in ``data`` and subscriptions match by it.
    """
    if Event.objects.filter(pk=event_id, sequence__isnull=True).exists():
        events_sequence_stamp()
    now = timezone.now()
    with transaction.atomic():
        claimed = Event.objects.filter(
            pk=event_id, dispatched_at__isnull=True, sequence__isnull=False
        ).update(dispatched_at=now)
        if claimed != 1:
            return Fanout()
        event = Event.objects.get(pk=event_id)
        subscriptions = recipients(subscriptions_matching(event=event))
        at = bulk.db_datetime(now)
        rows = [
            (
                event.pk,
                subscription.pk,
                subscription.owner_id,
                subscription.channel,
                subscription.endpoint_id,
                event.type,
                (
                    DeliveryStatus.PENDING
                    if subscription.cadence == Cadence.IMMEDIATE
                    else DeliveryStatus.HELD
                ).value,
                message_id_new(),
                0,
                at if subscription.cadence == Cadence.IMMEDIATE else None,
                at,
                "",
            )
            for subscription in subscriptions
        ]
        # Plain tuples, not model instances: a fan-out inserts thousands. Skipping conflicts
        # keeps "one per event and endpoint, address or subscription" the database's job.
        bulk.rows_insert(Delivery, _COLUMNS, rows, skip_conflicts=True)
        created = Delivery.objects.filter(event=event, status=DeliveryStatus.PENDING)
        return Fanout(pending_ids=list(created.order_by("id").values_list("pk", flat=True)))


def recipients(subscriptions: list[Subscription]) -> list[Subscription]:
    """The subscriptions that get a delivery of one event: one per webhook or chat endpoint
    and one per owner's address for immediate email (the first subscription by id speaks for
    the others), and every digest subscription (email or chat).

    Receivers dedupe on ``webhook-id``, which is per delivery, so two subscriptions sending
    the same event to one endpoint would look like two changes. A digest is a different
    message (a summary of its own subscription's period), so an owner with an immediate
    and a digest subscription gets both, and each digest subscription lists the event in
    its own digest. The database enforces the same (``delivery_once_per_event_endpoint``,
    ``delivery_once_per_event_address``) against a concurrent or repeated dispatch.
    """
    chosen, seen = [], set()
    for subscription in sorted(subscriptions, key=lambda s: s.pk):
        if subscription.cadence != Cadence.IMMEDIATE:
            key = ("digest", subscription.pk)
        elif subscription.channel == Channel.EMAIL:
            key = ("address", subscription.owner_id)
        else:  # a webhook or chat endpoint
            key = ("endpoint", subscription.endpoint_id)
        if key not in seen:
            seen.add(key)
            chosen.append(subscription)
    return chosen


_COLUMNS = (
    "event_id",
    "subscription_id",
    "owner_id",
    "channel",
    "endpoint_id",
    "event_type",
    "status",
    "message_id",
    "attempt_count",
    "next_attempt_at",
    "created_at",
    "cancelled_reason",
)
