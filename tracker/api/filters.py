"""Query parameters of the list resources: filtersets, ordering and search, all strict."""

import datetime

from django import forms
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions
from rest_framework.filters import OrderingFilter, SearchFilter

from tracker.models import (
    Delivery,
    Event,
    EventType,
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    Organization,
    Process,
    ProcessKind,
    ProcessStatus,
    Subscription,
    WebhookEndpoint,
)
from tracker.models.alerts import DeliveryStatus

from .serializers.record import MAX_ID


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": MAX_ID})
class IdFilter(filters.NumberFilter):
    """A whole, positive id; "1.5" or "99999999999999999999" is a 400, not a guess."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class StrictSearchFilter(SearchFilter):
    """``?search=``, documented only on the resources that have search fields (the others
    refuse it as an unknown parameter)."""

    def get_schema_operation_parameters(self, view):
        if not getattr(view, "search_fields", None):
            return []
        return super().get_schema_operation_parameters(view)


class _UtcDateTimeField(IsoDateTimeField):
    """ISO 8601, turned into UTC: PostgreSQL refuses offsets beyond about 16 hours, which
    ISO 8601 (and Python) allow."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(datetime.UTC)
        except OverflowError as error:
            raise forms.ValidationError("This time is out of range.") from error


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = _UtcDateTimeField


class StrictOrderingFilter(OrderingFilter):
    """``?ordering=-target_date,title``; an unknown field is a 400 (DRF ignores it), and the
    id breaks ties so that pages do not overlap."""

    def remove_invalid_fields(self, queryset, fields, view, request):
        valid = {item[0] for item in self.get_valid_fields(queryset, view, {"request": request})}
        invalid = [term for term in fields if term.removeprefix("-") not in valid]
        if invalid:
            raise exceptions.ValidationError(
                {
                    self.ordering_param: [
                        f"Cannot order by {', '.join(invalid)}; "
                        f"choose from {', '.join(sorted(valid))} (prefix - to reverse)."
                    ]
                }
            )
        return fields

    def get_schema_operation_parameters(self, view):
        # The terms it accepts, comma-separated, rather than any string.
        fields = getattr(view, "ordering_fields", None) or []
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Which fields to order by; prefix - to reverse.",
                "schema": {
                    "type": "array",
                    "items": {
                        "type": "string",
                        "enum": [term for name in fields for term in (name, f"-{name}")],
                    },
                },
                "style": "form",
                "explode": False,
            }
        ]

    def filter_queryset(self, request, queryset, view):
        ordering = self.get_ordering(request, queryset, view)
        if ordering:
            return queryset.order_by(*ordering, "id")
        return queryset


class _UpdatedSinceFilterSet(filters.FilterSet):
    updated_since = UtcDateTimeFilter(
        field_name="updated_at",
        lookup_expr="gte",
        label="Changed at or after this time (ISO 8601, e.g. 2025-10-01T00:00:00Z).",
    )


class OrganizationFilter(_UpdatedSinceFilterSet):
    slug = filters.CharFilter(field_name="slug", label="The organization's slug.")

    class Meta:
        model = Organization
        fields = ["slug", "updated_since"]


class ProcessFilter(_UpdatedSinceFilterSet):
    organization = filters.CharFilter(
        field_name="organization__slug", label="The organization's slug."
    )
    kind = filters.MultipleChoiceFilter(choices=ProcessKind.choices)
    status = filters.MultipleChoiceFilter(choices=ProcessStatus.choices)

    class Meta:
        model = Process
        fields = ["organization", "kind", "status", "updated_since"]


class MilestoneFilter(_UpdatedSinceFilterSet):
    organization = filters.CharFilter(
        field_name="process__organization__slug", label="The organization's slug."
    )
    process = IdFilter(field_name="process_id", label="The process's id.")
    kind = filters.MultipleChoiceFilter(choices=MilestoneKind.choices)
    status = filters.MultipleChoiceFilter(choices=MilestoneStatus.choices)
    target_date_from = filters.DateFilter(
        field_name="target_date", lookup_expr="gte", label="Target date on or after (YYYY-MM-DD)."
    )
    target_date_to = filters.DateFilter(
        field_name="target_date", lookup_expr="lte", label="Target date on or before (YYYY-MM-DD)."
    )
    at_risk = filters.BooleanFilter(label="Only milestones at risk (true) or not at risk (false).")

    class Meta:
        model = Milestone
        fields = [
            "organization",
            "process",
            "kind",
            "status",
            "target_date_from",
            "target_date_to",
            "at_risk",
            "updated_since",
        ]


class EventFilter(filters.FilterSet):
    after = IdFilter(
        field_name="sequence",
        lookup_expr="gt",
        label="Only events after this sequence number (resume from the last one you saw).",
    )
    type = filters.MultipleChoiceFilter(choices=EventType.choices)
    organization = filters.CharFilter(
        field_name="organization__slug", label="The organization's slug."
    )
    process = IdFilter(field_name="process_id", label="The process's id.")
    milestone = IdFilter(field_name="milestone_id", label="The milestone's id.")

    class Meta:
        model = Event
        fields = ["after", "type", "organization", "process", "milestone"]


def strict_boolean_filter(field_name: str) -> filters.TypedChoiceFilter:
    """``true`` or ``false`` only: django-filter's BooleanFilter ignores any other value,
    so ``?active=maybe`` would quietly return everything."""
    return filters.TypedChoiceFilter(
        field_name=field_name,
        choices=[("true", "true"), ("false", "false")],
        coerce=lambda value: value == "true",
    )


class SubscriptionFilter(filters.FilterSet):
    active = strict_boolean_filter("active")

    class Meta:
        model = Subscription
        fields = ["channel", "cadence", "active"]


class WebhookEndpointFilter(filters.FilterSet):
    enabled = strict_boolean_filter("enabled")

    class Meta:
        model = WebhookEndpoint
        fields = ["channel", "enabled"]


class DeliveryFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=DeliveryStatus.choices)
    endpoint = IdFilter(field_name="endpoint_id", label="The webhook endpoint's id.")
    subscription = IdFilter(field_name="subscription_id", label="The subscription's id.")
    event = IdFilter(field_name="event__sequence", label="The event's sequence in the feed.")

    class Meta:
        model = Delivery
        fields = ["status", "endpoint", "subscription", "event"]
