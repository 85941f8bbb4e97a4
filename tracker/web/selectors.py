"""Reads for the pages and feeds. Each returns a queryset (or row) shaped so that a page runs
a fixed number of queries however many milestones, processes or events it shows."""

import datetime
from collections.abc import Iterable, Sequence

from django.db.models import (
    Case,
    Count,
    Exists,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)

from tracker.models import (
    Event,
    EventType,
    Milestone,
    MilestoneDependency,
    MilestoneKind,
    MilestoneStatus,
    Organization,
    Process,
    ProcessStatus,
    Subscription,
)
from tracker.models.milestones import CLOSED_STATUSES

# Ids are 64-bit in the database.
MAX_ID = 2**63 - 1

# Still to happen: what "next" and "overdue" are about.
OPEN_STATUSES = [status for status in MilestoneStatus if status not in CLOSED_STATUSES]


def _open_milestones() -> QuerySet[Milestone]:
    return Milestone.objects.filter(status__in=OPEN_STATUSES, target_date__isnull=False)


def dashboard_process_list(*, today: datetime.date) -> QuerySet[Process]:
    """Active processes with their organization, progress counts and next open milestone.

    ``milestone_total`` leaves cancelled milestones out: they will never be completed, so
    counting them would keep a finished process short of 100%.
    """
    next_open = _open_milestones().filter(process=OuterRef("pk")).order_by("target_date", "id")
    return (
        Process.objects.filter(status=ProcessStatus.ACTIVE)
        .select_related("organization")
        .annotate(
            milestone_total=Count(
                "milestones", filter=~Q(milestones__status=MilestoneStatus.CANCELLED)
            ),
            milestone_completed=Count(
                "milestones", filter=Q(milestones__status=MilestoneStatus.COMPLETED)
            ),
            milestone_overdue=Count(
                "milestones",
                filter=Q(milestones__status__in=OPEN_STATUSES, milestones__target_date__lt=today),
            ),
            next_milestone_id=Subquery(next_open.values("pk")[:1]),
            next_milestone_title=Subquery(next_open.values("title")[:1]),
            next_milestone_target=Subquery(next_open.values("target_date")[:1]),
        )
        .order_by("organization__name", "organization_id", "title", "id")
    )


def milestone_overdue_list(*, today: datetime.date) -> QuerySet[Milestone]:
    """Open milestones of active processes whose target date has passed, oldest first."""
    return (
        _open_milestones()
        .filter(process__status=ProcessStatus.ACTIVE, target_date__lt=today)
        .select_related("process__organization")
        .order_by("target_date", "id")
    )


def milestone_upcoming_list(*, today: datetime.date) -> QuerySet[Milestone]:
    """Open milestones of active processes due today or later, soonest first."""
    return (
        _open_milestones()
        .filter(process__status=ProcessStatus.ACTIVE, target_date__gte=today)
        .select_related("process__organization")
        .order_by("target_date", "id")
    )


def organization_list() -> QuerySet[Organization]:
    """Every organization with how many processes it has, and how many are active."""
    return Organization.objects.annotate(
        process_total=Count("processes"),
        process_active=Count("processes", filter=Q(processes__status=ProcessStatus.ACTIVE)),
    ).order_by("name", "id")


def organization_get(*, slug: str) -> Organization | None:
    """The organization with this slug, or None."""
    return Organization.objects.filter(slug=slug).first()


def organization_process_list(*, organization: Organization) -> QuerySet[Process]:
    """An organization's processes: active ones first, then by title."""
    return (
        Process.objects.filter(organization=organization)
        .select_related("organization")
        .annotate(inactive=Case(When(status=ProcessStatus.ACTIVE, then=Value(0)), default=Value(1)))
        .order_by("inactive", "title", "id")
    )


def process_get(*, pk: int) -> Process | None:
    """The process with this id (and its organization), or None."""
    if not 0 < pk <= MAX_ID:
        return None  # out of the database's range: a query would fail, not miss
    return Process.objects.select_related("organization").filter(pk=pk).first()


def timeline_milestone_list(*, process_ids: Iterable[int]) -> QuerySet[Milestone]:
    """The milestones of these processes in timeline order, with everything a timeline shows.

    The typed child rows (filing, AG review, IPO step) come in the same query through their
    one-to-one links, and dependencies in one more, so the count of queries does not grow
    with the number of milestones.
    """
    links = MilestoneDependency.objects.select_related("depends_on").order_by(
        "depends_on__process_id", "depends_on__position", "depends_on_id"
    )
    return (
        Milestone.objects.filter(process_id__in=list(process_ids))
        .select_related("process__organization", "filing", "agreview", "ipostep")
        .prefetch_related(Prefetch("dependency_links", queryset=links))
        .order_by("process_id", "position", "target_date", "id")
    )


def milestone_at_risk_list() -> QuerySet[Milestone]:
    """Milestones of active processes that are at risk, soonest target date first."""
    return (
        Milestone.objects.filter(at_risk=True, process__status=ProcessStatus.ACTIVE)
        .select_related("process__organization")
        .order_by("target_date", "id")
    )


def event_list(
    *,
    organization_id: int | None = None,
    process_id: int | None = None,
    types: Sequence[str] = (),
    sequenced: bool = False,
) -> QuerySet[Event]:
    """Events, newest first, narrowed to an organization, a process and event types.

    ``sequenced`` (the feeds) keeps only events stamped with their feed sequence, newest
    sequence first: the order integrators resume in. ``process_exists`` tells whether the
    process is still there to link to, ``organization_slug`` where the organization's page
    is now (None once it is deleted): events outlive what they describe.
    """
    events = Event.objects.annotate(
        process_exists=Exists(Process.objects.filter(pk=OuterRef("process_id"))),
        organization_slug=Subquery(
            Organization.objects.filter(pk=OuterRef("organization_id")).values("slug")[:1]
        ),
    )
    if sequenced:
        events = events.filter(sequence__isnull=False).order_by("-sequence")
    else:
        events = events.order_by("-id")
    if organization_id is not None:
        events = events.filter(organization_id=organization_id)
    if process_id is not None:
        events = events.filter(process_id=process_id)
    if types:
        events = events.filter(type__in=list(types))
    return events


def process_id_known(*, pk: int) -> bool:
    """True when a process with this id exists or once existed (its events remain)."""
    return Process.objects.filter(pk=pk).exists() or Event.objects.filter(process_id=pk).exists()


def milestone_title_map(*, ids: Iterable[int]) -> dict[int, str]:
    """Titles of the milestones that still exist among ``ids``."""
    return dict(Milestone.objects.filter(pk__in=set(ids)).values_list("pk", "title"))


def _calendar_milestones(
    *, organization: Organization | None, process: Process | None
) -> QuerySet[Milestone]:
    milestones = Milestone.objects.filter(target_date__isnull=False)
    if organization is not None:
        milestones = milestones.filter(process__organization=organization)
    if process is not None:
        milestones = milestones.filter(process=process)
    return milestones


def calendar_milestone_list(
    *, organization: Organization | None = None, process: Process | None = None
) -> QuerySet[Milestone]:
    """Milestones with a target date, for the iCalendar feeds, by date."""
    return (
        _calendar_milestones(organization=organization, process=process)
        .select_related("process__organization")
        .order_by("target_date", "id")
    )


def calendar_state(
    *, organization: Organization | None = None, process: Process | None = None
) -> tuple:
    """A fingerprint of everything the calendar of these milestones is built from, in one
    cheap query: it changes whenever the calendar would.

    Every saved change raises a version (milestone, process or organization), ids are never
    reused, so an edit, an addition, a deletion or a move in or out always changes one of
    the sums or the count. Versions rather than timestamps: a web server whose clock lags
    would write an ``updated_at`` that does not raise the newest one.
    """
    state = _calendar_milestones(organization=organization, process=process).aggregate(
        count=Count("id"),
        ids=Sum("id"),
        versions=Sum("version"),
        process_versions=Sum("process__version"),
        organization_versions=Sum("process__organization__version"),
        updated=Max("updated_at"),
    )
    return tuple(str(value) for _, value in sorted(state.items()))


def subscription_scope(*, subscription: Subscription) -> dict[str, list[str]]:
    """What a subscription covers, by filter, as names; an empty list means "all"."""
    return {
        "organizations": [o.name for o in subscription.organizations.order_by("name")],
        "processes": [str(p) for p in subscription.processes.select_related("organization")],
        "milestone_kinds": [
            str(MilestoneKind(kind).label) if kind in MilestoneKind.values else kind
            for kind in subscription.milestone_kinds
        ],
        "event_types": [
            str(EventType(type_).label) if type_ in EventType.values else type_
            for type_ in subscription.event_types
        ],
    }
