"""Reads of the event log."""

from django.db.models import QuerySet

from tracker.models import Event


def event_list() -> QuerySet[Event]:
    """Events oldest first (the feed's order). Each event's public payload is built from its
    own row (``tracker.snapshots.event_payload``), so nothing is joined."""
    return Event.objects.order_by("id")
