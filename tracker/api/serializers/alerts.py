"""The caller's own alerts: subscriptions, webhook endpoints, deliveries and their attempts."""

from drf_spectacular.utils import OpenApiExample, extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from tracker.models import (
    Delivery,
    DeliveryAttempt,
    EventType,
    MilestoneKind,
    Organization,
    Process,
    Subscription,
    WebhookEndpoint,
)
from tracker.models.alerts import Channel


class _OwnerAddressField(serializers.EmailField):
    """Reads as the address email alerts go to (the owner's, as it is now); written, it may
    only name that address."""

    def get_attribute(self, instance):
        return instance.owner.email if instance.channel == Channel.EMAIL else ""


class _OwnEndpointField(serializers.PrimaryKeyRelatedField):
    """An id among the caller's own endpoints; anyone else's reads as "does not exist"."""

    def get_queryset(self):
        return WebhookEndpoint.objects.filter(owner=self.context["request"].user)


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "Webhook for one organization's IPO steps",
            value={
                "name": "IPO desk",
                "organizations": [1],
                "milestone_kinds": ["ipo_step"],
                "event_types": ["milestone.status_changed", "milestone.date_changed"],
                "channel": "webhook",
                "endpoint": 7,
            },
            request_only=True,
        ),
        OpenApiExample(
            "Daily Slack digest of one process",
            value={"processes": [3], "channel": "slack", "endpoint": 8, "cadence": "daily"},
            request_only=True,
        ),
    ]
)
class SubscriptionSerializer(serializers.ModelSerializer):
    """What to be told about (empty filters mean everything) and how."""

    organizations = serializers.PrimaryKeyRelatedField(
        many=True,
        required=False,
        queryset=Organization.objects.all(),
        help_text="Organization ids; empty for all.",
    )
    processes = serializers.PrimaryKeyRelatedField(
        many=True, required=False, queryset=Process.objects.all(), help_text="Process ids."
    )
    milestone_kinds = serializers.ListField(
        child=serializers.ChoiceField(choices=MilestoneKind.choices),
        required=False,
        max_length=len(MilestoneKind.choices),
        help_text="Milestone kinds; empty for all.",
    )
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices),
        required=False,
        max_length=len(EventType.choices),
        help_text="Event types; empty for all.",
    )
    endpoint = _OwnEndpointField(
        required=False,
        allow_null=True,
        help_text="For the webhook, slack and teams channels: one of your endpoints, of the "
        "same channel as the subscription.",
    )
    email = _OwnerAddressField(
        required=False,
        allow_blank=True,
        help_text="For the email channel: where it goes, your account's current address "
        "(read when each email is sent). If you give one, it must be that address.",
    )

    class Meta:
        model = Subscription
        fields = [
            "id",
            "name",
            "organizations",
            "processes",
            "milestone_kinds",
            "event_types",
            "channel",
            "email",
            "endpoint",
            "cadence",
            "active",
            "starts_after_sequence",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["starts_after_sequence", "version", "created_at", "updated_at"]
        extra_kwargs = {
            "cadence": {"help_text": "Webhook subscriptions are always immediate."},
            "starts_after_sequence": {
                "help_text": "The feed's sequence when it was created (or turned back on): it "
                "is sent only events after it; read earlier ones from the event feed."
            },
        }


@extend_schema_serializer(
    examples=[
        OpenApiExample(
            "A Slack incoming webhook",
            value={
                "channel": "slack",
                "url": "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnop",
                "description": "#regulatory",
            },
            request_only=True,
        ),
    ]
)
class WebhookEndpointSerializer(serializers.ModelSerializer):
    """A URL that receives your alerts: signed webhooks (Standard Webhooks), or chat messages
    for a Slack or Microsoft Teams incoming webhook."""

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "channel",
            "url",
            "description",
            "enabled",
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "paused_until",
            "version",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "channel": {
                "help_text": "webhook (signed Standard Webhooks), slack (a Slack incoming-webhook "
                "URL, https://hooks.slack.com/services/...) or teams (a Teams incoming-webhook or "
                "Power Automate workflow URL). Fixed once created."
            }
        }
        read_only_fields = [
            "disabled_reason",
            "disabled_at",
            "failing_since",
            "paused_until",
            "version",
            "created_at",
            "updated_at",
        ]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    """The endpoint with its signing secret: only in the answers to create and rotate."""

    secret = serializers.SerializerMethodField(
        help_text="The signing secret (whsec_...). Shown only now: store it. Null for Slack "
        "and Teams endpoints: the chat services verify no signature.",
    )
    previous_secret_expires_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="Until when the previous secret also signs (after a rotation).",
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret", "previous_secret_expires_at"]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_secret(self, endpoint: WebhookEndpoint) -> str | None:
        return endpoint.secret if endpoint.channel == Channel.WEBHOOK else None


class DeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = [
            "id",
            "attempted_at",
            "duration_ms",
            "http_status",
            "response_body",
            "error",
            "succeeded",
        ]
        read_only_fields = fields


class DeliverySerializer(serializers.ModelSerializer):
    """One event sent to one subscription (or a test message to an endpoint), with every
    attempt at sending it."""

    event = serializers.IntegerField(
        source="event_sequence",
        read_only=True,
        allow_null=True,
        help_text="The event's sequence in the feed; null for a test message.",
    )
    attempts = DeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "message_id",
            "event",
            "event_type",
            "subscription",
            "endpoint",
            "channel",
            "status",
            "cancelled_reason",
            "attempt_count",
            "next_attempt_at",
            "completed_at",
            "created_at",
            "attempts",
        ]
        read_only_fields = fields
