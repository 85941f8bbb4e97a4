from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from tracker.encryption import EncryptedTextField
from tracker.validators import chat_url_problem, http_url_validator


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    WEBHOOK = "webhook", "Webhook"
    SLACK = "slack", "Slack"
    TEAMS = "teams", "Microsoft Teams"


# The channels that post to an endpoint (a URL); the chat ones post the chat's own format,
# unsigned, to a URL of that chat service's shape.
ENDPOINT_CHANNELS = (Channel.WEBHOOK, Channel.SLACK, Channel.TEAMS)
CHAT_CHANNELS = (Channel.SLACK, Channel.TEAMS)
ENDPOINT_CHANNEL_CHOICES = [(c.value, c.label) for c in ENDPOINT_CHANNELS]


class WebhookEndpoint(models.Model):
    """A URL that receives its owner's alerts: signed webhooks (Standard Webhooks), or chat
    messages for a Slack or Microsoft Teams incoming webhook."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    # Fixed when the endpoint is created: its subscriptions have the same channel.
    channel = models.CharField(
        max_length=16,
        choices=ENDPOINT_CHANNEL_CHOICES,
        default=Channel.WEBHOOK,
    )
    url = models.URLField(max_length=500, validators=[http_url_validator])
    description = models.CharField(max_length=200, blank=True)
    # "whsec_" + base64 of random bytes. During a rotation's grace period the previous
    # secret signs too, so receivers can switch without dropping messages. Both are
    # encrypted at rest (FIELD_ENCRYPTION_KEY): a database dump cannot sign webhooks.
    secret = EncryptedTextField(editable=False)
    previous_secret = EncryptedTextField(blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    # Set at the first failure after a success; an endpoint failing for too long is disabled.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    # The circuit breaker: failed attempts since the last success; from
    # ALERTS_BREAKER_THRESHOLD on, nothing is sent to the endpoint until paused_until.
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    paused_until = models.DateTimeField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["owner_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=ENDPOINT_CHANNELS),
                name="endpoint_channel_known",
                violation_error_message="An endpoint's channel is webhook, slack or teams.",
            )
        ]

    def __str__(self) -> str:
        if self.channel in CHAT_CHANNELS:
            # A Slack or Teams URL is itself the credential (its path or sig=): never in
            # messages (a cookie), the admin log or error reports.
            name = self.description or f"endpoint #{self.pk}"
            return f"{name} ({urlsplit(self.url).hostname})"
        return self.url

    def clean(self) -> None:
        # Only the chat services' own URL shapes are accepted for a chat channel: anything
        # else would get messages it cannot read (and the chat's format, unsigned).
        problem = chat_url_problem(self.channel, self.url or "")
        if problem:
            raise ValidationError({"url": problem})


class Cadence(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately"
    DAILY = "daily", "Daily digest"
    WEEKLY = "weekly", "Weekly digest"


class Subscription(models.Model):
    """What someone wants to hear about, and how. An empty filter means "all"."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions"
    )
    name = models.CharField(max_length=100, blank=True)
    organizations = models.ManyToManyField(
        "tracker.Organization",
        through="SubscriptionOrganization",
        blank=True,
        related_name="subscriptions",
    )
    processes = models.ManyToManyField(
        "tracker.Process", through="SubscriptionProcess", blank=True, related_name="subscriptions"
    )
    # Lists of MilestoneKind and EventType values (JSON so the SQLite demo works too).
    milestone_kinds = models.JSONField(default=list, blank=True)
    event_types = models.JSONField(default=list, blank=True)
    # Email goes to the owner's account address as it is when each email is sent, so it
    # follows the owner's changes of address; there is no address of its own to go stale.
    channel = models.CharField(max_length=16, choices=Channel.choices)
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="subscriptions",
    )
    cadence = models.CharField(max_length=16, choices=Cadence.choices, default=Cadence.IMMEDIATE)
    active = models.BooleanField(default=True)
    # The feed's sequence when the subscription was created (or turned back on): it hears
    # only events after it, however late they are dispatched.
    starts_after_sequence = models.BigIntegerField(default=0, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["owner_id", "id"]
        constraints = [
            # (That the endpoint's channel is the subscription's is checked by clean() and
            # the services: a check constraint cannot look at another table.)
            models.CheckConstraint(
                condition=(Q(channel=Channel.EMAIL) & Q(endpoint__isnull=True))
                | (Q(channel__in=ENDPOINT_CHANNELS) & Q(endpoint__isnull=False)),
                name="subscription_channel_target",
                violation_error_message=(
                    "A webhook, Slack or Teams subscription needs an endpoint; an email "
                    "subscription has none."
                ),
            ),
            # Webhooks are sent as they happen; email and chat can be gathered into digests.
            models.CheckConstraint(
                condition=Q(channel__in=[Channel.EMAIL, *CHAT_CHANNELS])
                | Q(cadence=Cadence.IMMEDIATE),
                name="subscription_webhook_immediate",
                violation_error_message="Webhook subscriptions are always immediate.",
            ),
        ]

    def __str__(self) -> str:
        if self.channel == Channel.EMAIL:
            return self.name or f"Email, {self.get_cadence_display().lower()}"
        return self.name or f"{self.get_channel_display()} to {self.endpoint}"

    def clean(self) -> None:
        if (
            self.channel in ENDPOINT_CHANNELS
            and self.endpoint is not None
            and self.endpoint.channel != self.channel
        ):
            raise ValidationError(
                {
                    "endpoint": f"This is a {self.endpoint.get_channel_display()} endpoint; a "
                    f"{self.get_channel_display()} subscription needs a "
                    f"{self.get_channel_display()} endpoint."
                }
            )


class SubscriptionOrganization(models.Model):
    """One organization a subscription follows.

    The link outlives the organization (no database constraint), as events do: a filter on
    a deleted organization still matches that organization's last events and nothing else,
    instead of emptying into "everything".
    """

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="organization_links"
    )
    organization = models.ForeignKey(
        "tracker.Organization",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "organization"], name="subscription_organization_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Subscription {self.subscription_id} follows organization {self.organization_id}"


class SubscriptionProcess(models.Model):
    """One process a subscription follows; like SubscriptionOrganization, it outlives the
    process, so followers hear of its deletion and the filter never widens."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="process_links"
    )
    process = models.ForeignKey(
        "tracker.Process", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "process"], name="subscription_process_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Subscription {self.subscription_id} follows process {self.process_id}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Succeeded"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    # Waiting for its subscription's next daily or weekly digest.
    HELD = "held", "Held for digest"


# Deliveries that are done: nothing will send them again unless someone redelivers them.
FINISHED_STATUSES = [DeliveryStatus.SUCCEEDED, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED]

# The event type of the deliveries that "send test event" creates: they have no event.
TEST_EVENT_TYPE = "webhook.test"


class DigestStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Digest(models.Model):
    """One daily or weekly email gathering a subscription's held deliveries of one period.

    Unique per subscription, cadence and period, so building digests twice sends one email.
    """

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="digests")
    cadence = models.CharField(max_length=16, choices=Cadence.choices)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=DigestStatus.choices, default=DigestStatus.PENDING
    )
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-period_start", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "cadence", "period_start"],
                name="digest_once_per_period",
            ),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.get_cadence_display()} from {self.period_start:%Y-%m-%d}"


class Delivery(models.Model):
    """One event for one recipient: the unit that is sent, retried and redelivered.

    An event reaches a webhook endpoint once and an owner's email address once (immediate
    email), however many of the owner's subscriptions match it; ``subscription`` is the
    first of them. A digest subscription holds its own delivery for its own digest. A test
    delivery ("send test event") has no event and no subscription, only an endpoint.
    """

    # No index of its own: the unique (event, subscription) constraint leads with it. Every
    # index is written on each of a delivery's status changes, a fan-out's main cost.
    event = models.ForeignKey(
        "tracker.Event",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
        db_index=False,
    )
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    # Whose subscription or endpoint it is: immediate email goes to this user's address as
    # it is at send time, and nothing is sent once the user is deactivated.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # The webhook target, kept on the row so test deliveries and the admin filter need no join.
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    # Copied from the event (or TEST_EVENT_TYPE) for filtering without a join; not indexed
    # (lists are read newest first by id, and filtered by owner or endpoint).
    event_type = models.CharField(max_length=40)
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    # Standard Webhooks "webhook-id": the same on every retry and redelivery.
    message_id = models.CharField(max_length=64, unique=True)
    attempt_count = models.PositiveIntegerField(
        default=0, help_text="Attempts in the current round; a redelivery starts a new round."
    )
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a worker claimed it for sending; a stale claim means the worker died.
    claimed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    cancelled_reason = models.CharField(max_length=200, blank=True)
    digest = models.ForeignKey(
        Digest, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event", "subscription"], name="delivery_unique_per_event_subscription"
            ),
            # One webhook (or immediate chat message) per event and endpoint, whichever
            # subscriptions matched: the receiver dedupes on webhook-id, which is per
            # delivery. A chat digest's deliveries (held, or gathered into a digest) are each
            # digest's own, and a cancelled one was never sent: both are left out, as for email.
            models.UniqueConstraint(
                fields=["event", "endpoint"],
                condition=Q(event__isnull=False, endpoint__isnull=False, digest__isnull=True)
                & ~Q(status__in=[DeliveryStatus.HELD, DeliveryStatus.CANCELLED]),
                name="delivery_once_per_event_endpoint",
            ),
            # One immediate email per event and owner (the owner's address, read at send
            # time). Digest deliveries (held, or gathered into a digest) are each digest's
            # own, and a cancelled one was never sent: both are left out.
            models.UniqueConstraint(
                fields=["event", "owner"],
                condition=Q(event__isnull=False, channel=Channel.EMAIL, digest__isnull=True)
                & ~Q(status__in=[DeliveryStatus.HELD, DeliveryStatus.CANCELLED]),
                name="delivery_once_per_event_address",
            ),
            models.CheckConstraint(
                condition=(Q(event__isnull=False) & Q(subscription__isnull=False))
                | (
                    Q(event__isnull=True)
                    & Q(subscription__isnull=True)
                    & Q(endpoint__isnull=False)
                    & Q(event_type=TEST_EVENT_TYPE)
                ),
                name="delivery_event_or_test",
            ),
            models.CheckConstraint(
                condition=Q(channel=Channel.EMAIL) | Q(endpoint__isnull=False),
                name="delivery_webhook_has_endpoint",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["status", "claimed_at"]),
            # What the retention job prunes (tracker.alerts.retention): finished deliveries
            # by completion time; live ones are not in the index at all.
            models.Index(
                fields=["completed_at"],
                name="delivery_finished_idx",
                condition=Q(status__in=FINISHED_STATUSES),
            ),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.message_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery, kept for the owner to inspect."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True, help_text="The first 4 KB of the response.")
    error = models.TextField(blank=True)
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ["delivery_id", "id"]
        # For the retention job's old attempts of deliveries that were redelivered since.
        indexes = [models.Index(fields=["attempted_at"], name="attempt_attempted_at_idx")]

    def __str__(self) -> str:
        return f"Attempt at {self.attempted_at:%Y-%m-%d %H:%M:%S}"
