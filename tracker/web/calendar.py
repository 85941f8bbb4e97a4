"""The iCalendar feed of target dates, built with the ``icalendar`` package.

One all-day VEVENT per milestone with a target date. Its UID (``milestone-<id>@<host>``)
never changes, so a calendar that subscribed updates the event in place rather than adding a
copy. SEQUENCE is the milestone's ``version`` minus one (0 for a milestone never edited):
RFC 5545 asks for SEQUENCE to rise with every significant revision (the date, and the
status, e.g. a cancellation), and ``version`` rises on every saved change and never goes
back. Counting ``milestone.date_changed`` events instead would miss a save that moved the
date together with the status (such a save is recorded as ``milestone.status_changed``) and
would cost a query per feed. A rise on a minor edit (notes) is harmless: clients only
refresh the event. DTSTAMP and LAST-MODIFIED are when the row last changed, so an unchanged
record gives the same bytes on every fetch.
"""

import datetime
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from django.conf import settings
from icalendar import Calendar
from icalendar import Event as CalendarEvent

from tracker.models import Milestone, MilestoneStatus

PRODID = "-//Milestone Tracker//Target dates//EN"

# VEVENT STATUS only knows tentative, confirmed and cancelled: a target date is tentative
# until the milestone happens.
_EVENT_STATUS = {
    MilestoneStatus.COMPLETED: "CONFIRMED",
    MilestoneStatus.CANCELLED: "CANCELLED",
}


def uid_host() -> str:
    """The host part of UIDs: from SITE_URL, so UIDs do not depend on how the feed was fetched."""
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def milestone_uid(milestone: Milestone) -> str:
    return f"milestone-{milestone.pk}@{uid_host()}"


def milestone_calendar(
    *,
    milestones: Iterable[Milestone],
    name: str,
    page_url: Callable[[Milestone], str],
) -> bytes:
    """An iCalendar document (bytes) with one all-day event per milestone with a target date.

    ``page_url`` gives the absolute URL of the page that shows a milestone.
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    for milestone in milestones:
        if milestone.target_date is not None:
            calendar.add_component(_event(milestone, page_url(milestone)))
    return calendar.to_ical()


def _event(milestone: Milestone, url: str) -> CalendarEvent:
    process = milestone.process
    event = CalendarEvent()
    event.add("uid", milestone_uid(milestone))
    event.add("dtstamp", milestone.updated_at.astimezone(datetime.UTC))
    event.add("last-modified", milestone.updated_at.astimezone(datetime.UTC))
    event.add("created", milestone.created_at.astimezone(datetime.UTC))
    event.add("sequence", max(milestone.version - 1, 0))
    event.add("dtstart", milestone.target_date)
    event.add("dtend", milestone.target_date + datetime.timedelta(days=1))
    # A target date is a marker, not time taken: do not show the day as busy.
    event.add("transp", "TRANSPARENT")
    event.add("summary", f"{process.organization.name}: {milestone.title}")
    event.add("status", _EVENT_STATUS.get(milestone.status, "TENTATIVE"))
    event.add("categories", [milestone.get_kind_display()])
    event.add("url", url)
    lines = [
        f"Process: {process.title}",
        f"Status: {milestone.get_status_display()}",
        f"Kind: {milestone.get_kind_display()}",
    ]
    if milestone.actual_date:
        lines.append(f"Happened on: {milestone.actual_date.isoformat()}")
    if milestone.source_url:
        lines.append(f"Source: {milestone.source_url}")
    if milestone.notes:
        lines.append("")
        lines.append(milestone.notes)
    lines += ["", url]
    event.add("description", "\n".join(lines))
    return event
