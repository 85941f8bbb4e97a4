"""Reads of the event log."""

from django.db.models import QuerySet

from tracker.models import Event


def event_list() -> QuerySet[Event]:
    """The feed: events with their sequence (stamped after commit), in sequence order, which
    is commit order. Each event's public payload is built from its own row
    (``tracker.snapshots.event_payload``), so nothing is joined."""
    return Event.objects.filter(sequence__isnull=False).order_by("sequence")
