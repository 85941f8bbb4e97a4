"""Pages and feeds. Views parse the request, call selectors (reads) or a service (the one
write, unsubscribing) and render; they never touch models directly."""

import hashlib
import itertools
from collections import defaultdict

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from tracker.alerts.unsubscribe import unsubscribe_token_read
from tracker.models import Milestone, MilestoneStatus, Organization, Process, Subscription
from tracker.models.alerts import Channel
from tracker.selectors.schedule import schedule_from_loaded
from tracker.services.alerts import subscription_unsubscribe

from . import selectors
from .access import public_read
from .account_views import follow_context
from .calendar import milestone_calendar, uid_host
from .feeds import EventFeed, FeedRequest
from .filters import FilterError, event_filters_parse
from .gantt import gantt_svg
from .history import describe_events
from .timeline import timeline_entries

UPCOMING_LENGTH = 10
AT_RISK_LENGTH = 5
OVERDUE_LENGTH = 25
HISTORY_LENGTH = 20
LATEST_CHANGES_LENGTH = 15
# Raise when the calendar's output changes for the same record, so cached copies and the
# ETags that clients hold are not reused.
CALENDAR_FORMAT = 1
CALENDAR_CACHE_SECONDS = 24 * 3600


@require_safe
@public_read
def dashboard(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    processes = list(selectors.dashboard_process_list(today=today))
    by_organization = [
        (group[0].organization, group)
        for _, grouped in itertools.groupby(processes, key=lambda p: p.organization_id)
        for group in [list(grouped)]
    ]
    # One more than is shown, to tell whether the list was cut short.
    overdue = list(selectors.milestone_overdue_list(today=today)[: OVERDUE_LENGTH + 1])
    at_risk = list(selectors.milestone_at_risk_list()[: AT_RISK_LENGTH + 1])
    context = {
        "nav": "dashboard",
        "today": today,
        "by_organization": by_organization,
        "overdue": timeline_entries(overdue[:OVERDUE_LENGTH], today=today, full=False),
        "overdue_more": len(overdue) > OVERDUE_LENGTH,
        "at_risk": at_risk[:AT_RISK_LENGTH],
        "at_risk_more": len(at_risk) > AT_RISK_LENGTH,
        "upcoming": timeline_entries(
            list(selectors.milestone_upcoming_list(today=today)[:UPCOMING_LENGTH]),
            today=today,
            full=False,
        ),
        "latest_changes": describe_events(selectors.event_list()[:LATEST_CHANGES_LENGTH]),
    }
    return render(request, "web/dashboard.html", context)


@require_safe
@public_read
def organization_index(request: HttpRequest) -> HttpResponse:
    context = {"nav": "organizations", "organizations": selectors.organization_list()}
    return render(request, "web/organization_list.html", context)


@require_safe
@public_read
def organization_detail(request: HttpRequest, slug: str) -> HttpResponse:
    organization = selectors.organization_get(slug=slug)
    if organization is None:
        raise Http404(f"There is no organization {slug!r}.")
    today = timezone.localdate()
    processes = list(selectors.organization_process_list(organization=organization))
    milestones = selectors.timeline_milestone_list(process_ids=[p.pk for p in processes])
    entries = defaultdict(list)
    for entry in timeline_entries(list(milestones), today=today):
        entries[entry.milestone.process_id].append(entry)
    charts = {
        process.pk: gantt_svg(
            schedule_from_loaded(
                process=process, milestones=[e.milestone for e in entries[process.pk]]
            ),
            today=today,
        )
        for process in processes
    }
    context = {
        "nav": "organizations",
        "organization": organization,
        "processes": [(process, entries[process.pk], charts[process.pk]) for process in processes],
        "history": describe_events(
            selectors.event_list(organization_id=organization.pk)[:HISTORY_LENGTH]
        ),
        "feed_query": f"organization={organization.slug}",
        "follow": follow_context(request, organization=organization),
    }
    return render(request, "web/organization_detail.html", context)


@require_safe
@public_read
def process_detail(request: HttpRequest, pk: int) -> HttpResponse:
    process = selectors.process_get(pk=pk)
    if process is None:
        raise Http404(f"There is no process #{pk}.")
    today = timezone.localdate()
    entries = timeline_entries(
        list(selectors.timeline_milestone_list(process_ids=[process.pk])), today=today
    )
    schedule = schedule_from_loaded(process=process, milestones=[e.milestone for e in entries])
    critical = {e.milestone.pk: e.milestone for e in schedule.entries if e.critical}
    completed = sum(1 for e in entries if e.milestone.status == MilestoneStatus.COMPLETED)
    # As on the dashboard: a cancelled milestone will never be completed, so it is not counted.
    counted = sum(1 for e in entries if e.milestone.status != MilestoneStatus.CANCELLED)
    context = {
        "nav": "organizations",
        "process": process,
        "organization": process.organization,
        "entries": entries,
        "completed": completed,
        "counted": counted,
        "overdue_count": sum(1 for e in entries if e.is_overdue),
        "at_risk_count": sum(1 for e in entries if e.milestone.at_risk),
        "chart": gantt_svg(schedule, today=today),
        "end_date": schedule.end_date,
        "critical_path": [critical[pk] for pk in schedule.critical_path if pk in critical],
        "history": describe_events(selectors.event_list(process_id=process.pk)[:HISTORY_LENGTH]),
        "feed_query": f"process={process.pk}",
        "follow": follow_context(request, process=process),
    }
    return render(request, "web/process_detail.html", context)


@require_safe
@public_read
def events_feed(request: HttpRequest) -> HttpResponse:
    try:
        filters = event_filters_parse(request.GET)
    except FilterError as error:
        return HttpResponseBadRequest(
            f"Bad feed filter: {error}\n", content_type="text/plain; charset=utf-8"
        )
    feed_request = FeedRequest(filters=filters, url=request.build_absolute_uri())
    return EventFeed()(request, feed_request=feed_request)


def _calendar_response(
    request: HttpRequest,
    *,
    organization: Organization | None = None,
    process: Process | None = None,
    name: str,
    filename: str,
) -> HttpResponse:
    """The calendar, answered with 304 when the client's copy is current.

    Building an iCalendar document costs about a millisecond per event and calendar apps
    poll, so the body is keyed by a fingerprint of what it is made of (one cheap query): an
    unchanged calendar is neither rebuilt (cache) nor resent (ETag).
    """
    state = selectors.calendar_state(organization=organization, process=process)
    # The body also depends on the host (event URLs) and on SITE_URL (UIDs).
    fingerprint = repr((CALENDAR_FORMAT, state, name, request.build_absolute_uri("/"), uid_host()))
    key = hashlib.sha256(fingerprint.encode()).hexdigest()
    etag = f'"{key[:40]}"'
    not_modified = get_conditional_response(request, etag=etag)
    if not_modified is not None:
        return not_modified

    def page_url(milestone: Milestone) -> str:
        path = reverse("web_process", args=[milestone.process_id])
        return request.build_absolute_uri(f"{path}#milestone-{milestone.pk}")

    def build() -> bytes:
        milestones = selectors.calendar_milestone_list(organization=organization, process=process)
        return milestone_calendar(milestones=milestones, name=name, page_url=page_url)

    body = cache.get_or_set(f"tracker.web.calendar:{key}", build, CALENDAR_CACHE_SECONDS)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["ETag"] = etag
    return response


@require_safe
@public_read
def calendar_all(request: HttpRequest) -> HttpResponse:
    return _calendar_response(
        request,
        name="Milestone Tracker: target dates",
        filename="milestones.ics",
    )


@require_safe
@public_read
def calendar_organization(request: HttpRequest, slug: str) -> HttpResponse:
    organization = selectors.organization_get(slug=slug)
    if organization is None:
        raise Http404(f"There is no organization {slug!r}.")
    return _calendar_response(
        request,
        organization=organization,
        name=f"{organization.name}: target dates",
        filename=f"{organization.slug}.ics",
    )


@require_safe
@public_read
def calendar_process(request: HttpRequest, pk: int) -> HttpResponse:
    process = selectors.process_get(pk=pk)
    if process is None:
        raise Http404(f"There is no process #{pk}.")
    return _calendar_response(
        request,
        process=process,
        name=f"{process.organization.name}, {process.title}: target dates",
        filename=f"{process.organization.slug}-{process.slug}.ics",
    )


# The signed token is the credential, and RFC 8058 one-click unsubscribes arrive from mail
# providers as a bare POST (body "List-Unsubscribe=One-Click") with no cookie and no CSRF
# token, so CSRF protection cannot apply. GET only shows what would be unsubscribed, because
# mail scanners fetch links; only POST changes anything. Open to everyone whatever
# TRACKER_PUBLIC_READ says: people unsubscribe without an account here.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    subscription = unsubscribe_token_read(token)
    if subscription is None:
        response = render(request, "web/unsubscribe_invalid.html", status=404)
    else:
        was_active = subscription.active
        if request.method == "POST":
            subscription = subscription_unsubscribe(subscription=subscription)
        response = render(
            request,
            "web/unsubscribe.html",
            {
                "subscription": subscription,
                "done": request.method == "POST",
                "was_active": was_active,
                "target": _subscription_target(subscription),
                "scope": selectors.subscription_scope(subscription=subscription),
            },
        )
    # The token is in the URL: keep it out of Referer headers and search engines.
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response


def _subscription_target(subscription: Subscription) -> str:
    """Where the alerts go, partly masked: the page is open to whoever holds the link."""
    if subscription.channel == Channel.EMAIL:
        local, _, domain = subscription.owner.email.partition("@")
        return f"email to {local[:1]}{'•' * 3}@{domain}"
    return "webhook"
