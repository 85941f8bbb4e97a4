"""The event feed: every change to the record, oldest first, resumable."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import viewsets

from tracker.api.filters import EventFilter
from tracker.api.pagination import EventCursorPagination
from tracker.api.permissions import ReadPermission
from tracker.api.serializers.events import EventSerializer
from tracker.selectors.events import event_list

from .base import StrictQueryParamsMixin


@extend_schema_view(
    list=extend_schema(
        summary="List events",
        description=(
            "Oldest first. Follow `next` to page; when it is null you have caught up: keep "
            "the last `sequence` and ask again with `?after=<sequence>` (or the last `next` "
            "link) for what happened since. Each item is the payload webhooks send as `data`."
        ),
    ),
    retrieve=extend_schema(summary="Get an event by its sequence number"),
)
class EventViewSet(StrictQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """The append-only event log: the audit trail, the alerts' source and this feed."""

    serializer_class = EventSerializer
    permission_classes = [ReadPermission]
    filter_backends = [DjangoFilterBackend]
    filterset_class = EventFilter
    pagination_class = EventCursorPagination
    lookup_field = "sequence"

    def get_queryset(self):
        return event_list()
