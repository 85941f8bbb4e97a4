"""Forms of the subscribers' own pages: following, their alerts, time zone, webhooks and
invitations. They parse and check input; the views hand the result to one service."""

from django import forms
from django.conf import settings
from django.contrib.auth.forms import UserCreationForm

from tracker.alerts.guard import url_allowed_validator
from tracker.models import EventType, MilestoneKind, Organization, Process, Subscription
from tracker.models.accounts import time_zone_names
from tracker.models.alerts import ENDPOINT_CHANNEL_CHOICES, Cadence, Channel
from tracker.selectors.alerts import endpoint_list

_EMAIL_CHOICES = [
    (f"email:{Cadence.IMMEDIATE}", "Email, immediately"),
    (f"email:{Cadence.DAILY}", "Email, daily digest"),
    (f"email:{Cadence.WEEKLY}", "Email, weekly digest"),
]


def delivery_choices(owner) -> list[tuple[str, str]]:
    """How alerts can reach ``owner``: email at each cadence, or one of their enabled
    endpoints (webhook, Slack or Teams)."""
    choices = list(_EMAIL_CHOICES)
    for endpoint in endpoint_list(owner=owner).filter(enabled=True).order_by("id"):
        name = endpoint.description or endpoint.url
        choices.append((f"endpoint:{endpoint.pk}", f"{endpoint.get_channel_display()} to {name}"))
    return choices


def delivery_choice_of(subscription: Subscription) -> str:
    """The ``delivery_choices`` value a subscription is sent by."""
    if subscription.endpoint_id:
        return f"endpoint:{subscription.endpoint_id}"
    return f"email:{subscription.cadence}"


class DeliveryChoiceMixin:
    """A ``how`` field listing the owner's ways of being alerted; ``delivery_data`` turns
    the choice into the services' channel, cadence and endpoint."""

    def _set_how(self, owner, initial: str | None = None) -> None:
        self.owner = owner
        self.fields["how"].choices = delivery_choices(owner)
        if initial:
            self.fields["how"].initial = initial

    def delivery_data(self) -> dict:
        kind, _, value = self.cleaned_data["how"].partition(":")
        if kind == "email":
            return {"channel": Channel.EMAIL, "cadence": value, "endpoint": None}
        endpoint = endpoint_list(owner=self.owner).get(pk=int(value))
        return {"channel": endpoint.channel, "cadence": Cadence.IMMEDIATE, "endpoint": endpoint}


class FollowForm(DeliveryChoiceMixin, forms.Form):
    """Follow one organization or process: how, and optionally which kinds of change."""

    how = forms.ChoiceField(label="How to tell you", widget=forms.RadioSelect)
    event_types = forms.MultipleChoiceField(
        label="Only these changes (leave all unticked for every change)",
        choices=EventType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, owner, **kwargs):
        super().__init__(*args, **kwargs)
        self._set_how(owner, initial=f"email:{Cadence.IMMEDIATE}")

    def service_data(self) -> dict:
        return {**self.delivery_data(), "event_types": self.cleaned_data["event_types"]}


class SubscriptionForm(DeliveryChoiceMixin, forms.Form):
    """A subscription on "My alerts": its name, how it is sent and its filters."""

    name = forms.CharField(label="Name", max_length=100, required=False)
    how = forms.ChoiceField(label="How to tell you", widget=forms.RadioSelect)
    organizations = forms.ModelMultipleChoiceField(
        Organization.objects.order_by("name"),
        label="Organizations (none ticked: all)",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    processes = forms.ModelMultipleChoiceField(
        Process.objects.select_related("organization").order_by("organization__name", "title"),
        label="Processes (none ticked: all)",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    milestone_kinds = forms.MultipleChoiceField(
        label="Milestone kinds (none ticked: all)",
        choices=MilestoneKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    event_types = forms.MultipleChoiceField(
        label="Changes (none ticked: all)",
        choices=EventType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    active = forms.BooleanField(label="Active", required=False, initial=True)
    # The version the page showed: a save over someone else's change is refused.
    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, owner, subscription: Subscription | None = None, **kwargs):
        if subscription is not None:
            kwargs.setdefault(
                "initial",
                {
                    "loaded_version": subscription.version,
                    "name": subscription.name,
                    "organizations": list(subscription.organizations.all()),
                    "processes": list(subscription.processes.all()),
                    "milestone_kinds": subscription.milestone_kinds,
                    "event_types": subscription.event_types,
                    "active": subscription.active,
                },
            )
        super().__init__(*args, **kwargs)
        self._set_how(
            owner,
            initial=delivery_choice_of(subscription) if subscription else _EMAIL_CHOICES[0][0],
        )

    def service_data(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            **self.delivery_data(),
            "milestone_kinds": data["milestone_kinds"],
            "event_types": data["event_types"],
            "active": data["active"],
        }


def _time_zone_choices() -> list[tuple[str, str]]:
    return [("", f"The site's ({settings.TIME_ZONE})")] + [
        (name, name) for name in time_zone_names()
    ]


class TimeZoneForm(forms.Form):
    time_zone = forms.ChoiceField(
        label="Your time zone",
        choices=_time_zone_choices,
        required=False,
        help_text=f"Digests are built at {settings.ALERTS_DIGEST_HOUR}:00 in this time zone, "
        "and emails show times in it.",
    )


class EndpointForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        help_text="Where to POST: your receiver of signed webhooks (Standard Webhooks), or a "
        "Slack or Microsoft Teams incoming-webhook or workflow URL.",
        validators=[url_allowed_validator],
    )
    description = forms.CharField(label="Description", max_length=200, required=False)


class EndpointCreateForm(EndpointForm):
    # The chat service's URL shape is checked by the service, on the URL field.
    channel = forms.ChoiceField(
        label="Kind",
        choices=ENDPOINT_CHANNEL_CHOICES,
        initial=Channel.WEBHOOK,
        widget=forms.RadioSelect,
    )
    field_order = ["channel", "url", "description"]


class EndpointEditForm(EndpointForm):
    enabled = forms.BooleanField(label="Enabled", required=False)
    # The version the page showed: a save after the endpoint was disabled (or edited
    # elsewhere) meanwhile is refused rather than silently switching it back.
    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class ResendFailedForm(forms.Form):
    since = forms.DateTimeField(
        label="Resend everything that failed since",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"],
        help_text="In your time zone.",
    )


class InvitationAcceptForm(UserCreationForm):
    """The invitee chooses a username and a password; the address is the invitation's.

    Django's form checks that the username is free and the password against the
    validators (with the address, so it may not resemble it); the account itself is made by
    the service, never by this form's save().
    """

    def __init__(self, *args, email: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance.email = email
