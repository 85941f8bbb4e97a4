"""The event feed's items: exactly ``tracker.snapshots.event_payload`` (the webhook ``data``)."""

from drf_spectacular.utils import OpenApiExample, extend_schema_serializer
from rest_framework import serializers

from tracker.models import EventType
from tracker.snapshots import event_payload


class _ActorSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["user", "system"])
    name = serializers.CharField(
        help_text="An editor's display name (full name, or 'Editor #<id>'), or a system "
        "source like 'scheduler'."
    )


class _OrganizationSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    name = serializers.CharField()


class _ProcessSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField()
    title = serializers.CharField()
    kind = serializers.CharField()
    status = serializers.CharField()


_EXAMPLE = {
    "version": 1,
    "id": "5f0c6a8e-7d7e-4a36-9a55-0f6d3f1c2b9a",
    "sequence": 1042,
    "type": "milestone.status_changed",
    "occurred_at": "2025-10-28T16:30:00+00:00",
    "actor": {"type": "user", "name": "analyst"},
    "organization": {"id": 1, "slug": "openai", "name": "OpenAI"},
    "process": {
        "id": 3,
        "slug": "recapitalization",
        "title": "Recapitalization into a public benefit corporation",
        "kind": "restructuring",
        "status": "active",
    },
    "milestone": {"id": 42, "title": "California AG review", "status": "completed"},
    "changes": {"status": ["in_progress", "completed"], "actual_date": [None, "2025-10-28"]},
}


@extend_schema_serializer(
    examples=[OpenApiExample("A status change", value=_EXAMPLE, response_only=True)]
)
class EventSerializer(serializers.Serializer):
    """One change to the record, in the versioned shape webhooks send as ``data``."""

    version = serializers.IntegerField(help_text="Payload version; changes only by adding.")
    id = serializers.UUIDField(help_text="The event's public id (the same in webhooks).")
    sequence = serializers.IntegerField(
        help_text="Position in the feed, in commit order (an event committing late is "
        "numbered after everything already listed); pass it as ?after= to resume."
    )
    type = serializers.ChoiceField(choices=EventType.choices)
    occurred_at = serializers.DateTimeField()
    actor = _ActorSerializer()
    organization = _OrganizationSummarySerializer(
        allow_null=True,
        help_text="The organization concerned; in its own events (organization.*) every fact "
        "of it after the change (cik, ticker, state_of_incorporation, website, follow_edgar, "
        "version).",
    )
    process = _ProcessSummarySerializer(
        allow_null=True, help_text="The process concerned; null for organization events."
    )
    milestone = serializers.JSONField(
        allow_null=True,
        help_text="The milestone after the change (every field of its kind); null for "
        "process and organization events.",
    )
    changes = serializers.DictField(
        child=serializers.ListField(min_length=2, max_length=2),
        help_text="Changed fields as {field: [old, new]}; empty for creations and reminders.",
    )

    def to_representation(self, instance):
        return event_payload(instance)
