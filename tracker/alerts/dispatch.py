"""Fan-out: turning one committed event into deliveries, exactly once."""

from django.db import transaction
from django.utils import timezone

from tracker.models import Event
from tracker.models.alerts import Cadence, Delivery, DeliveryStatus

from .selectors import subscriptions_matching
from .services import message_id_new


def event_dispatch(*, event_id: int) -> list[int]:
    """Claim the event, create one delivery per matching subscription, and return the ids
    of the deliveries to send now (digest subscriptions' deliveries are held).

    The claim (``dispatched_at`` set by a conditional UPDATE) and the deliveries commit
    together, so a crash loses neither: before the commit the event is still undispatched
    for the sweep; after it the deliveries are pending for the sweep. A second run finds
    the event claimed and does nothing.
    """
    now = timezone.now()
    with transaction.atomic():
        claimed = Event.objects.filter(pk=event_id, dispatched_at__isnull=True).update(
            dispatched_at=now
        )
        if claimed != 1:
            return []
        event = Event.objects.get(pk=event_id)
        rows = []
        for subscription in subscriptions_matching(event=event):
            immediate = subscription.cadence == Cadence.IMMEDIATE
            rows.append(
                Delivery(
                    event=event,
                    subscription=subscription,
                    channel=subscription.channel,
                    endpoint_id=subscription.endpoint_id,
                    event_type=event.type,
                    message_id=message_id_new(),
                    status=DeliveryStatus.PENDING if immediate else DeliveryStatus.HELD,
                    next_attempt_at=now if immediate else None,
                )
            )
        # The unique (event, subscription) constraint is the last word on "one each".
        Delivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        return list(
            Delivery.objects.filter(event=event, status=DeliveryStatus.PENDING)
            .order_by("id")
            .values_list("pk", flat=True)
        )
