"""Admin for alerts: subscriptions, webhook endpoints, the delivery log and digests.

Saves go through tracker.services.alerts like the API's; the delivery log is read-only
apart from its actions (redeliver; send a test event from the endpoints' list).
"""

from functools import partial

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.urls import reverse

from tracker.alerts.guard import url_allowed_validator
from tracker.models import Organization, Process, Subscription, WebhookEndpoint
from tracker.models.alerts import Channel, Delivery, DeliveryAttempt, Digest
from tracker.services.alerts import (
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_update,
    subscription_create,
    subscription_delete,
    subscription_update,
)

from .forms import VersionedForm
from .secrets import ShownSecret, secret_page
from .service_admin import ServiceAdminMixin, adopt

# The page's fields in order; the two filters are form fields, the rest the model's own.
_SUBSCRIPTION_ADMIN_FIELDS = [
    "owner",
    "name",
    "channel",
    "endpoint",
    "cadence",
    "active",
    "organization_filter",
    "process_filter",
    "milestone_kinds",
    "event_types",
    "loaded_version",
]


class SubscriptionForm(VersionedForm):
    """The filters are links that outlive what they name (see SubscriptionProcess), so the
    admin edits them through plain choice fields; the service keeps links to deleted rows."""

    organization_filter = forms.ModelMultipleChoiceField(
        Organization.objects.order_by("name"),
        required=False,
        label="Organizations",
        widget=FilteredSelectMultiple("organizations", is_stacked=False),
        help_text="Leave empty to follow every organization.",
    )
    process_filter = forms.ModelMultipleChoiceField(
        Process.objects.select_related("organization").order_by("organization__name", "title"),
        required=False,
        label="Processes",
        widget=FilteredSelectMultiple("processes", is_stacked=False),
        help_text="Leave empty to follow every process.",
    )

    class Meta:
        model = Subscription
        fields = [
            name
            for name in _SUBSCRIPTION_ADMIN_FIELDS
            if not name.endswith("_filter") and name != "loaded_version"
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["organization_filter"].initial = list(self.instance.organizations.all())
            self.fields["process_filter"].initial = list(self.instance.processes.all())


@admin.register(Subscription)
class SubscriptionAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["__str__", "owner", "channel", "cadence", "active", "created_at"]
    list_filter = ["channel", "cadence", "active"]
    search_fields = ["name", "owner__email", "owner__username", "endpoint__url"]
    autocomplete_fields = ["owner"]

    def get_fields(self, request, obj=None):
        # Where email goes is only known once there is an owner.
        return [*_SUBSCRIPTION_ADMIN_FIELDS, "email_to"] if obj else _SUBSCRIPTION_ADMIN_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return ["owner", "email_to"] if obj else []

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "endpoint":
            # A new endpoint's secret is shown on a page of its own, which the add-another
            # popup would close at once: endpoints are added from their own admin.
            field.widget.can_add_related = False
        return field

    @admin.display(description="Email goes to")
    def email_to(self, subscription):
        # Read when each email is sent, so a change of the owner's address is followed.
        return subscription.owner.email or "(the owner has no email address)"

    def save_model(self, request, obj, form, change):
        data = {
            name: form.cleaned_data[name]
            for name in _SUBSCRIPTION_ADMIN_FIELDS
            if name in form.cleaned_data
            and name not in ("owner", "organization_filter", "process_filter", "loaded_version")
        }
        organizations = form.cleaned_data.get("organization_filter", ())
        processes = form.cleaned_data.get("process_filter", ())
        if change:
            saved = subscription_update(
                subscription=obj,
                data=data,
                organizations=organizations,
                processes=processes,
                expected_version=form.cleaned_data.get("loaded_version"),
            )
        else:
            saved = subscription_create(
                owner=form.cleaned_data["owner"],
                data=data,
                organizations=organizations,
                processes=processes,
            )
        adopt(obj, saved)

    def save_related(self, request, form, formsets, change):
        pass  # the service has set the filters

    def delete_checked(self, request, obj):
        subscription_delete(subscription=obj)


class WebhookEndpointForm(VersionedForm):
    class Meta:
        model = WebhookEndpoint
        # The channel's URL shape (Slack, Teams) is checked by the model's clean().
        fields = ["owner", "channel", "url", "description", "enabled"]
        # Built at import, before the admin's formfield_overrides apply: a URL typed without
        # a scheme is taken as https (Django 6's default; 5.2 warns).
        # The SSRF guard's refusal is shown on the field (the service checks the same).
        field_classes = {
            "url": partial(
                forms.URLField, assume_scheme="https", validators=[url_allowed_validator]
            )
        }


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = [
        "url",
        "channel",
        "owner",
        "description",
        "enabled",
        "disabled_reason",
        "failing_since",
    ]
    list_filter = ["channel", "enabled"]
    search_fields = ["url", "description", "owner__username"]
    autocomplete_fields = ["owner"]
    fields = [
        "owner",
        "channel",
        "url",
        "description",
        "enabled",
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "consecutive_failures",
        "paused_until",
        "previous_secret_expires_at",
        "loaded_version",
    ]
    readonly_fields = [
        "disabled_reason",
        "disabled_at",
        "failing_since",
        "consecutive_failures",
        "paused_until",
        "previous_secret_expires_at",
    ]
    actions = ["send_test_event", "rotate_secret"]

    def get_readonly_fields(self, request, obj=None):
        # The channel is fixed once created: its subscriptions are of that channel.
        return [*self.readonly_fields, "owner", "channel"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in ("url", "description", "enabled")}
        if change:
            saved = endpoint_update(
                endpoint=obj, data=data, expected_version=form.cleaned_data.get("loaded_version")
            )
        else:
            data["channel"] = form.cleaned_data["channel"]
            saved = endpoint_create(owner=form.cleaned_data["owner"], data=data)
            if saved.channel == Channel.WEBHOOK:  # chat services verify no signature
                # Only for this request's response (response_add); never stored in clear.
                request._new_secrets = [saved]
        adopt(obj, saved)

    def response_add(self, request, obj, post_url_continue=None):
        if not getattr(request, "_new_secrets", None):
            return super().response_add(request, obj, post_url_continue)
        return self._secret_page(request, request._new_secrets)

    def delete_checked(self, request, obj):
        endpoint_delete(endpoint=obj)

    def _secret_page(self, request, endpoints):
        return secret_page(
            self,
            request,
            title="New signing secret" if len(endpoints) == 1 else "New signing secrets",
            secrets=[
                ShownSecret(label=endpoint.url, value=endpoint.secret) for endpoint in endpoints
            ],
            note="Copy the signing secret now and give it to the receiver: it is shown only "
            "this once. After a rotation the previous secret keeps signing for "
            f"{settings.WEBHOOK_SECRET_GRACE_HOURS:g} hours.",
            back_url=reverse("admin:tracker_webhookendpoint_changelist"),
        )

    @admin.action(description="Send a test event", permissions=["change"])
    def send_test_event(self, request, queryset):
        for endpoint in queryset:
            try:
                delivery = endpoint_send_test(endpoint=endpoint)
            except ValidationError as error:
                self.message_user(request, f"{endpoint}: {error.messages[0]}", messages.ERROR)
            else:
                self.message_user(
                    request, f"{endpoint}: test delivery {delivery.message_id} queued."
                )

    @admin.action(description="Rotate the signing secret", permissions=["change"])
    def rotate_secret(self, request, queryset):
        rotated = [endpoint_rotate_secret(endpoint=endpoint) for endpoint in queryset]
        return self._secret_page(request, rotated)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["attempted_at", "duration_ms", "succeeded", "http_status", "error", "response_body"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # what was sent, kept with its deliveries (pruned with them)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "message_id",
        "event_type",
        "channel",
        "target",
        "status",
        "attempt_count",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "channel", "event_type", "endpoint"]
    search_fields = ["message_id", "endpoint__url", "owner__email", "owner__username"]
    list_select_related = ["endpoint", "owner"]
    inlines = [DeliveryAttemptInline]
    actions = ["redeliver"]
    readonly_fields = [
        "message_id",
        "event",
        "subscription",
        "owner",
        "channel",
        "endpoint",
        "event_type",
        "status",
        "cancelled_reason",
        "attempt_count",
        "next_attempt_at",
        "claimed_at",
        "completed_at",
        "digest",
        "created_at",
    ]
    fields = readonly_fields

    @admin.display(description="To")
    def target(self, delivery):
        if delivery.endpoint_id:
            return delivery.endpoint.url
        return delivery.owner.email

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a log: only the redeliver action changes it, through the service

    def has_delete_permission(self, request, obj=None):
        return False

    def has_redeliver_permission(self, request):
        return request.user.has_perm("tracker.change_delivery")

    @admin.action(description="Redeliver (same webhook-id)", permissions=["redeliver"])
    def redeliver(self, request, queryset):
        done = 0
        for delivery in queryset:
            try:
                delivery_redeliver(delivery=delivery)
            except ValidationError as error:
                self.message_user(request, f"{delivery}: {error.messages[0]}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} deliver{'y' if done == 1 else 'ies'} queued again.")


@admin.register(Digest)
class DigestAdmin(admin.ModelAdmin):
    list_display = ["subscription", "cadence", "period_start", "status", "sent_at", "size"]
    list_filter = ["cadence", "status"]
    readonly_fields = [f.name for f in Digest._meta.fields]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(size=Count("deliveries"))

    @admin.display(description="Changes", ordering="size")
    def size(self, digest):
        return digest.size

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # what was sent, kept with its deliveries (pruned with them)
