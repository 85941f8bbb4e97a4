"""Subscribers' own pages: follow from a page, "My alerts", "My webhooks" (a portal like
Svix's) and accepting an invitation.

Every page but the invitation needs a signed-in user and shows only their own rows:
someone else's subscription, endpoint or delivery is not found (404), as in the API. Every
action is a plain form POST (no JavaScript needed) that calls one service, then redirects;
except that a new signing secret is answered on a page of its own, the only time it shows.
"""

import datetime
from functools import wraps

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from tracker.models import EventType, MilestoneKind, Organization, Process, Subscription
from tracker.models.accounts import user_time_zone, user_time_zone_chosen
from tracker.models.alerts import CHAT_CHANNELS
from tracker.selectors import alerts as alert_selectors
from tracker.selectors.accounts import invitation_usable
from tracker.services.accounts import (
    INVITATION_UNUSABLE,
    account_time_zone_update,
    invitation_accept,
)
from tracker.services.alerts import (
    deliveries_redeliver_failed,
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_update,
    subscription_create,
    subscription_delete,
    subscription_follow,
    subscription_unfollow,
    subscription_update,
)
from tracker.services.errors import ConcurrentUpdateError

from . import selectors
from .account_forms import (
    EndpointCreateForm,
    EndpointEditForm,
    FollowForm,
    InvitationAcceptForm,
    ResendFailedForm,
    SubscriptionForm,
    TimeZoneForm,
)

PREVIEW_DAYS = 30
DELIVERIES_PER_PAGE = 25


def account_page(view):
    """Signed-in users only (others go to the login page), with times shown in their own
    time zone."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        with timezone.override(user_time_zone(request.user)):
            return view(request, *args, **kwargs)

    return wrapper


def _posted(request: HttpRequest):
    # The form's data on a POST, even an empty one (``request.POST or None`` would show an
    # empty submission as a fresh form, without its errors).
    return request.POST if request.method == "POST" else None


def _form_errors_into(form, error: ValidationError | ConcurrentUpdateError) -> None:
    # A service's refusal shown on the form: on its field where it names one.
    if isinstance(error, ConcurrentUpdateError):
        form.add_error(None, str(error))
    elif hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


# --- Follow from a page --------------------------------------------------------------------


def follow_context(request: HttpRequest, *, organization=None, process=None) -> dict:
    """What the "Follow" box on an organization's or process's page needs."""
    if not request.user.is_authenticated:
        return {"signed_in": False}
    following = list(
        alert_selectors.subscriptions_following(
            owner=request.user, organization=organization, process=process
        )
    )
    return {
        "signed_in": True,
        "following": following,
        "form": FollowForm(owner=request.user, auto_id="follow_%s"),
        "action": _follow_url(organization=organization, process=process),
        "unfollow_action": _follow_url(organization=organization, process=process, un=True),
    }


def _follow_url(*, organization=None, process=None, un=False) -> str:
    prefix = "account_unfollow" if un else "account_follow"
    if process is not None:
        return reverse(f"{prefix}_process", args=[process.pk])
    return reverse(f"{prefix}_organization", args=[organization.slug])


def _follow_target(kind: str, key) -> tuple[Organization | None, Process | None, str]:
    if kind == "organization":
        organization = selectors.organization_get(slug=key)
        if organization is None:
            raise Http404("No such organization.")
        return organization, None, reverse("web_organization", args=[organization.slug])
    process = selectors.process_get(pk=key)
    if process is None:
        raise Http404("No such process.")
    return None, process, reverse("web_process", args=[process.pk])


@require_http_methods(["GET", "HEAD", "POST"])
@account_page
def follow(request: HttpRequest, kind: str, key) -> HttpResponse:
    """GET: the follow form on a page of its own; POST: follow, back to the page."""
    organization, process, back = _follow_target(kind, key)
    form = FollowForm(_posted(request), owner=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            subscription_follow(
                owner=request.user,
                data=form.service_data(),
                organization=organization,
                process=process,
            )
        except ValidationError as error:
            _form_errors_into(form, error)
        else:
            messages.success(request, f"You follow {organization or process}.")
            return redirect(back)
    context = {"form": form, "target": organization or process, "back": back}
    return render(request, "account/follow.html", context, status=400 if form.errors else 200)


@require_POST
@account_page
def unfollow(request: HttpRequest, kind: str, key) -> HttpResponse:
    organization, process, back = _follow_target(kind, key)
    following = alert_selectors.subscriptions_following(
        owner=request.user, organization=organization, process=process
    )
    if subscription_unfollow(subscriptions=list(following)):
        messages.success(request, f"You no longer follow {organization or process}.")
    return redirect(back)


# --- My alerts -----------------------------------------------------------------------------


def _scope_words(subscription: Subscription) -> list[str]:
    """The subscription's filters in words, from the prefetched rows."""
    organizations = sorted(o.name for o in subscription.organizations.all())
    processes = sorted(str(p) for p in subscription.processes.all())
    # A link outlives what it names: a filter on a deleted row is not "every".
    deleted = "a deleted one"
    if len(subscription.organization_links.all()) > len(organizations):
        organizations.append(deleted)
    if len(subscription.process_links.all()) > len(processes):
        processes.append(deleted)
    kinds = [str(k.label) for k in MilestoneKind if k in subscription.milestone_kinds]
    types = [str(t.label) for t in EventType if t in subscription.event_types]
    return [
        f"Organizations: {', '.join(organizations)}" if organizations else "Every organization",
        f"Processes: {', '.join(processes)}" if processes else "every process",
        f"Milestone kinds: {', '.join(kinds)}" if kinds else "every kind of milestone",
        f"Changes: {', '.join(types)}" if types else "every change",
    ]


def _channel_words(subscription: Subscription) -> str:
    if subscription.endpoint_id:
        endpoint = subscription.endpoint
        return f"{subscription.get_channel_display()} to {endpoint.description or endpoint.url}"
    return f"{subscription.get_channel_display()} to {subscription.owner.email}"


@require_http_methods(["GET", "HEAD"])
@account_page
def alerts(request: HttpRequest) -> HttpResponse:
    subscriptions = list(
        alert_selectors.subscription_list(owner=request.user)
        .select_related("endpoint")
        .prefetch_related("processes__organization", "organization_links", "process_links")
        .order_by("id")
    )
    since = timezone.now() - datetime.timedelta(days=PREVIEW_DAYS)
    counts = alert_selectors.subscription_match_counts(subscriptions=subscriptions, since=since)
    rows = [
        {
            "subscription": s,
            "scope": _scope_words(s),
            "channel": _channel_words(s),
            "matched": counts[s.pk],
        }
        for s in subscriptions
    ]
    context = {
        "nav": "alerts",
        "rows": rows,
        "preview_days": PREVIEW_DAYS,
        "time_zone_form": TimeZoneForm(
            initial={"time_zone": user_time_zone_chosen(request.user)}, auto_id="tz_%s"
        ),
        "time_zone": timezone.get_current_timezone_name(),  # set by account_page
    }
    return render(request, "account/alerts.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@account_page
def alert_create(request: HttpRequest) -> HttpResponse:
    form = SubscriptionForm(_posted(request), owner=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            subscription_create(
                owner=request.user,
                data=form.service_data(),
                organizations=form.cleaned_data["organizations"],
                processes=form.cleaned_data["processes"],
            )
        except ValidationError as error:
            _form_errors_into(form, error)
        else:
            messages.success(request, "Subscription created.")
            return redirect("account_alerts")
    return _subscription_page(request, form, None)


def _owned_subscription(request: HttpRequest, pk: int) -> Subscription:
    return get_object_or_404(alert_selectors.subscription_list(owner=request.user), pk=pk)


@require_http_methods(["GET", "HEAD", "POST"])
@account_page
def alert_edit(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _owned_subscription(request, pk)
    form = SubscriptionForm(_posted(request), owner=request.user, subscription=subscription)
    if request.method == "POST" and form.is_valid():
        try:
            subscription_update(
                subscription=subscription,
                data=form.service_data(),
                organizations=form.cleaned_data["organizations"],
                processes=form.cleaned_data["processes"],
                expected_version=form.cleaned_data["loaded_version"],
            )
        except (ValidationError, ConcurrentUpdateError) as error:
            _form_errors_into(form, error)
        else:
            messages.success(request, "Subscription saved.")
            return redirect("account_alerts")
    return _subscription_page(request, form, subscription)


def _subscription_page(request, form, subscription) -> HttpResponse:
    context = {"nav": "alerts", "form": form, "subscription": subscription}
    return render(request, "account/alert_form.html", context, status=400 if form.errors else 200)


@require_POST
@account_page
def alert_pause(request: HttpRequest, pk: int) -> HttpResponse:
    """Pause an active subscription, or resume a paused one."""
    subscription = _owned_subscription(request, pk)
    try:
        subscription_update(subscription=subscription, data={"active": not subscription.active})
    except ValidationError as error:
        messages.error(request, f"{subscription}: {' '.join(error.messages)}")
    else:
        state = "paused" if subscription.active else "resumed"
        messages.success(request, f"{subscription} {state}.")
    return redirect("account_alerts")


@require_http_methods(["GET", "HEAD", "POST"])
@account_page
def alert_delete(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = _owned_subscription(request, pk)
    if request.method == "POST":
        subscription_delete(subscription=subscription)
        messages.success(request, f"{subscription} deleted.")
        return redirect("account_alerts")
    context = {"nav": "alerts", "subscription": subscription}
    return render(request, "account/alert_delete.html", context)


@require_POST
@account_page
def time_zone(request: HttpRequest) -> HttpResponse:
    form = TimeZoneForm(request.POST, auto_id="tz_%s")
    if form.is_valid():
        account_time_zone_update(user=request.user, time_zone=form.cleaned_data["time_zone"])
        messages.success(request, "Time zone saved.")
        return redirect("account_alerts")
    context = {"nav": "alerts", "time_zone_form": form}
    return render(request, "account/time_zone.html", context, status=400)


# --- My webhooks ---------------------------------------------------------------------------


def _owned_endpoint(request: HttpRequest, pk: int):
    return get_object_or_404(alert_selectors.endpoint_health_list(owner=request.user), pk=pk)


def _secret_page(request: HttpRequest, endpoint, *, rotated: bool) -> HttpResponse:
    # The secret is on this response only: never stored in the session or messages, and
    # the page is not cached.
    response = render(
        request,
        "account/webhook_secret.html",
        {"nav": "webhooks", "endpoint": endpoint, "rotated": rotated},
    )
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD"])
@account_page
def webhooks(request: HttpRequest) -> HttpResponse:
    endpoints = alert_selectors.endpoint_health_list(owner=request.user).order_by("id")
    return render(request, "account/webhooks.html", {"nav": "webhooks", "endpoints": endpoints})


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@account_page
def webhook_create(request: HttpRequest) -> HttpResponse:
    form = EndpointCreateForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = endpoint_create(owner=request.user, data=form.cleaned_data)
        except ValidationError as error:
            _form_errors_into(form, error)
        else:
            if endpoint.channel in CHAT_CHANNELS:  # the chat service verifies no signature
                messages.success(request, f"{endpoint.get_channel_display()} endpoint added.")
                return redirect("account_webhook", pk=endpoint.pk)
            return _secret_page(request, endpoint, rotated=False)
    return render(
        request,
        "account/webhook_form.html",
        {"nav": "webhooks", "form": form, "endpoint": None},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "HEAD"])
@account_page
def webhook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned_endpoint(request, pk)
    page = Paginator(alert_selectors.endpoint_deliveries(endpoint=endpoint), DELIVERIES_PER_PAGE)
    deliveries = page.get_page(request.GET.get("page"))
    context = {
        "nav": "webhooks",
        "endpoint": endpoint,
        "deliveries": deliveries,
        "resend_form": ResendFailedForm(
            initial={"since": timezone.localtime().replace(microsecond=0, second=0)}
        ),
    }
    return render(request, "account/webhook_detail.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@account_page
def webhook_edit(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned_endpoint(request, pk)
    initial = {
        "url": endpoint.url,
        "description": endpoint.description,
        "enabled": endpoint.enabled,
        "loaded_version": endpoint.version,
    }
    form = EndpointEditForm(_posted(request), initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            endpoint_update(
                endpoint=endpoint, data=data, expected_version=data.pop("loaded_version")
            )
        except (ValidationError, ConcurrentUpdateError) as error:
            _form_errors_into(form, error)
        else:
            messages.success(request, "Endpoint saved.")
            return redirect("account_webhook", pk=endpoint.pk)
    return render(
        request,
        "account/webhook_form.html",
        {"nav": "webhooks", "form": form, "endpoint": endpoint},
        status=400 if form.errors else 200,
    )


@never_cache
@require_POST
@account_page
def webhook_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned_endpoint(request, pk)
    if endpoint.channel in CHAT_CHANNELS:
        messages.error(request, "Slack and Teams endpoints have no signing secret to rotate.")
        return redirect("account_webhook", pk=endpoint.pk)
    return _secret_page(request, endpoint_rotate_secret(endpoint=endpoint), rotated=True)


@require_POST
@account_page
def webhook_test(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned_endpoint(request, pk)
    try:
        endpoint_send_test(endpoint=endpoint)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, "Test event queued: it appears in the log below.")
    return redirect("account_webhook", pk=endpoint.pk)


@require_POST
@account_page
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned_endpoint(request, pk)
    endpoint_delete(endpoint=endpoint)
    messages.success(request, f"Endpoint {endpoint} deleted, with its subscriptions.")
    return redirect("account_webhooks")


@require_POST
@account_page
def webhook_redeliver(request: HttpRequest, pk: int, delivery_id: int) -> HttpResponse:
    endpoint = _owned_endpoint(request, pk)
    delivery = get_object_or_404(
        alert_selectors.endpoint_deliveries(endpoint=endpoint), pk=delivery_id
    )
    try:
        delivery_redeliver(delivery=delivery)
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(request, f"Delivery {delivery.message_id} queued again.")
    return redirect("account_webhook", pk=endpoint.pk)


@require_POST
@account_page
def webhook_resend_failed(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = _owned_endpoint(request, pk)
    form = ResendFailedForm(request.POST)
    if not form.is_valid():
        for error in form.errors.get("since", []):
            messages.error(request, f"Resend failed deliveries: {error}")
        return redirect("account_webhook", pk=endpoint.pk)
    try:
        count = deliveries_redeliver_failed(endpoint=endpoint, since=form.cleaned_data["since"])
    except ValidationError as error:
        messages.error(request, error.messages[0])
    else:
        messages.success(
            request, f"{count} failed deliver{'y' if count == 1 else 'ies'} queued again."
        )
    return redirect("account_webhook", pk=endpoint.pk)


# --- Invitations ---------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The invitee sets a username and password and is signed in; the link works once."""
    found = invitation_usable(token=token)
    if found is None:
        response = render(request, "404.html", {"message": INVITATION_UNUSABLE}, status=404)
    else:
        form = InvitationAcceptForm(_posted(request), email=found.email)
        if request.method == "POST" and form.is_valid():
            try:
                user = invitation_accept(
                    token=token,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                )
            except ValidationError as error:
                _form_errors_into(form, error)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                messages.success(request, "Welcome! Follow an organization or a process.")
                return redirect("account_alerts")
        response = render(
            request,
            "account/invitation.html",
            {"form": form, "invitation": found},
            status=400 if form.errors else 200,
        )
    # The token is in the URL: keep it out of Referer headers to other sites and out of
    # search engines. ("no-referrer" would make browsers send "Origin: null" with the form,
    # which CSRF protection rightly refuses.)
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    return response
