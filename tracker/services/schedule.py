"""Forecast dates and at-risk state, kept current along the dependency graph.

A milestone's forecast is its actual date once it happened; otherwise the later of its own
target date and, for each dependency, the dependency's forecast plus the link's minimum gap.
A cancelled milestone will not happen: it has no forecast and holds nothing back, so its
dependents go by their other dependencies and their own target (cancelling cuts the chain,
as completing does by fixing the date).

Every service that moves a date, a status or a dependency calls ``schedule_propagate`` in its
own transaction. It finds everything downstream with one recursive query (whatever the
length of the chain, across processes), recomputes those milestones in dependency order and
writes what changed in one statement, so a forecast is never stale after a commit.

A milestone that is still open is at risk when its forecast is later than its target date or
its target date has passed. ``at_risk_reason`` says why in words; ``at_risk_cause`` names
what makes it late as a key: the deciding dependency and the gap, or "passed" (the target
date passed). Dates are not part of the key: a milestone late because of D stays at risk
silently when D slips further (its reason is reworded in place; D's own
``milestone.date_changed`` tells subscribers the new date), so a slip at the head of a long
chain does not re-alert the whole chain. A ``milestone.at_risk`` event is written when the
cause becomes a new one (another deciding dependency, or late again after recovering),
``milestone.back_on_track`` when it clears, so an unchanged cause never alerts twice, however
often the record around it is saved or the hourly scan runs.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from tracker.models import (
    Event,
    EventType,
    Milestone,
    MilestoneDependency,
    MilestoneStatus,
    ProcessStatus,
)
from tracker.models.milestones import CLOSED_STATUSES
from tracker.snapshots import milestone_snapshot, subject_snapshot

from .events import Actor, event_row, events_record

SCHEDULER = "scheduler"
PASSED_CAUSE = "passed"  # the at-risk cause of an open milestone whose target date passed

# An arbitrary constant naming the advisory lock that serializes schedule changes.
_SCHEDULE_LOCK_KEY = 7_201_521

# The starting milestones and everything reachable from them along the dependency links,
# one way or the other: downstream (what depends on them) follows a link from its
# ``depends_on_id`` to its ``milestone_id``, upstream the reverse. UNION (not UNION ALL)
# drops rows already found, so a diamond is walked once. Plain SQL that PostgreSQL and
# SQLite (the demo) both run.
_WALK_SQL = """
WITH RECURSIVE reached(id) AS (
    SELECT id FROM tracker_milestone WHERE id IN ({placeholders})
    UNION
    SELECT link.{to_column}
    FROM tracker_milestonedependency AS link
    JOIN reached ON link.{from_column} = reached.id
)
SELECT id FROM reached
"""

_INPUT_FIELDS = ["target_date", "actual_date"]
SCHEDULE_FIELDS = ["forecast_date", "at_risk", "at_risk_reason", "at_risk_cause"]


@dataclass(slots=True)
class ScheduleState:
    """What the schedule of one milestone is computed from, and its result: plain values,
    so recomputing hundreds of milestones builds no model instances."""

    pk: int
    title: str
    status: str
    target_date: datetime.date | None
    actual_date: datetime.date | None
    forecast_date: datetime.date | None
    at_risk: bool
    at_risk_reason: str
    at_risk_cause: str


@dataclass(frozen=True)
class Propagation:
    """What ``schedule_propagate`` did: the recomputed schedules by milestone id, and the
    at-risk / back-on-track events for the caller to record after its own (cause, then
    effect)."""

    states: dict[int, ScheduleState]
    events: list[Event]


@dataclass(frozen=True)
class _Link:
    depends_on_id: int
    min_gap_days: int


@dataclass(frozen=True)
class _Upstream:
    """What a dependency outside the recomputed set contributes: its stored schedule."""

    title: str
    status: str
    target_date: datetime.date | None
    actual_date: datetime.date | None
    forecast_date: datetime.date | None


def schedule_lock() -> None:
    """Make writes that can move the schedule take turns until the transaction ends.

    Each write locks its own row first and the rows downstream of it afterwards; two
    concurrent writes on one chain could otherwise each hold a row the other needs next
    (a deadlock, which PostgreSQL ends by failing one of them). Milestone writes take this
    lock before anything else. SQLite (the demo) serializes writers already.
    """
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEDULE_LOCK_KEY])


def schedule_propagate(
    *, actor: Actor, milestone_ids: Iterable[int], today: datetime.date | None = None
) -> Propagation:
    """Recompute the forecast and at-risk state of ``milestone_ids`` and everything
    downstream of them, and save what changed.

    Must run inside the transaction of the change; the caller records ``events`` of the
    result (``events_record``) in that transaction too. The number of queries does not
    depend on how many milestones are downstream.
    """
    today = today or timezone.localdate()
    ids = _downstream_ids(set(milestone_ids))
    if not ids:
        return Propagation({}, [])
    # Locked in id order, so two changes meeting downstream take turns rather than both
    # seeing the old reason and both alerting (or deadlocking).
    milestones = {
        row[0]: ScheduleState(*row)
        for row in Milestone.objects.filter(pk__in=ids)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", "title", "status", *_INPUT_FIELDS, *SCHEDULE_FIELDS)
    }
    links: dict[int, list[_Link]] = {pk: [] for pk in milestones}
    upstream: dict[int, _Upstream] = {}
    rows = MilestoneDependency.objects.filter(milestone_id__in=milestones).values_list(
        "milestone_id",
        "depends_on_id",
        "min_gap_days",
        "depends_on__title",
        "depends_on__status",
        "depends_on__target_date",
        "depends_on__actual_date",
        "depends_on__forecast_date",
    )
    for milestone_id, depends_on_id, gap, *schedule in rows:
        links[milestone_id].append(_Link(depends_on_id, gap))
        if depends_on_id not in milestones:
            upstream[depends_on_id] = _Upstream(*schedule)

    changed: list[ScheduleState] = []
    alerts: dict[int, dict] = {}  # milestone id -> the changes its event shows
    for state in _dependency_order(milestones, links):
        before = [getattr(state, name) for name in SCHEDULE_FIELDS]
        _schedule(state, links[state.pk], milestones, upstream, today)
        if [getattr(state, name) for name in SCHEDULE_FIELDS] == before:
            continue
        changed.append(state)
        if state.at_risk_cause != before[-1]:
            alerts[state.pk] = _changes(state, before)
    _save_schedules(changed)
    return Propagation(milestones, _events(actor, alerts, milestones, links))


def _events(
    actor: Actor,
    alerts: dict[int, dict],
    states: dict[int, ScheduleState],
    links: dict[int, list["_Link"]],
) -> list[Event]:
    """The at-risk / back-on-track events of ``alerts``, with snapshots of the milestones
    as they now stand (one query for all of them)."""
    if not alerts:
        return []
    events = []
    rows = (
        Milestone.objects.filter(pk__in=alerts)
        .select_related("process__organization", "filing", "agreview", "ipostep")
        .order_by("pk")
    )
    for milestone in rows:
        typed = milestone.typed()
        state = states[milestone.pk]
        for name in SCHEDULE_FIELDS:  # as just computed (the row was read before the write)
            setattr(typed, name, getattr(state, name))
        depends_on = [link.depends_on_id for link in links[milestone.pk]]
        events.append(
            event_row(
                type=EventType.MILESTONE_AT_RISK
                if state.at_risk
                else EventType.MILESTONE_BACK_ON_TRACK,
                actor=actor,
                process=milestone.process,
                milestone=milestone,
                changes=alerts[milestone.pk],
                snapshot=subject_snapshot(milestone.process, milestone_snapshot(typed, depends_on)),
            )
        )
    return events


def milestones_at_risk_mark(*, today: datetime.date | None = None) -> int:
    """Put at risk the open milestones of active processes that are late but not flagged
    yet; returns how many. Run by the hourly reminders scan, as the scheduler.

    Two kinds are found, in one query: target dates that passed since the milestone was last
    computed (time moves on without any change to the record), and forecasts already after
    the target (data from before the schedule: migration 0006 computed forecasts, not flags).
    Milestones of completed or abandoned processes are left alone: nobody waits for them.
    A milestone already at risk keeps its reason, so a second scan records nothing.
    """
    today = today or timezone.localdate()
    ids = list(
        Milestone.objects.exclude(status__in=CLOSED_STATUSES)
        .filter(actual_date__isnull=True, at_risk=False, process__status=ProcessStatus.ACTIVE)
        .filter(Q(target_date__lt=today) | Q(forecast_date__gt=F("target_date")))
        .values_list("pk", flat=True)
    )
    if not ids:
        return 0
    with transaction.atomic():
        schedule_lock()
        propagation = schedule_propagate(actor=SCHEDULER, milestone_ids=ids, today=today)
        if propagation.events:
            events_record(propagation.events)
    return sum(1 for state in propagation.states.values() if state.pk in ids and state.at_risk)


def upstream_ids(start: Iterable[int]) -> set[int]:
    """The ids of ``start`` and of every milestone they depend on, directly or not: one
    recursive query, whatever the length of the chain."""
    return set(_walk(set(start), from_column="milestone_id", to_column="depends_on_id"))


def _downstream_ids(start: set[int]) -> list[int]:
    return _walk(start, from_column="depends_on_id", to_column="milestone_id")


def _walk(start: set[int], *, from_column: str, to_column: str) -> list[int]:
    if not start:
        return []
    sql = _WALK_SQL.format(
        placeholders=", ".join(["%s"] * len(start)), from_column=from_column, to_column=to_column
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, sorted(start))
        return [row[0] for row in cursor.fetchall()]


def _save_schedules(milestones: list[ScheduleState]) -> None:
    """Write the schedule fields of ``milestones`` in one statement.

    Django's ``bulk_update`` builds a CASE per field and row and took most of a 500-row
    propagation building it. PostgreSQL gets the rows as five arrays (five parameters);
    SQLite (the demo) a VALUES list (``UPDATE ... FROM`` needs SQLite 3.33).
    """
    if not milestones:
        return
    columns = [
        [m.pk for m in milestones],
        [m.forecast_date for m in milestones],
        [m.at_risk for m in milestones],
        [m.at_risk_reason for m in milestones],
        [m.at_risk_cause for m in milestones],
    ]
    if connection.vendor == "postgresql":
        source = (
            "unnest(%s::bigint[], %s::date[], %s::boolean[], %s::text[], %s::text[]) "
            "AS v(id, forecast_date, at_risk, at_risk_reason, at_risk_cause)"
        )
        params = columns
    else:
        source = (
            "(SELECT column1 AS id, column2 AS forecast_date, column3 AS at_risk, "
            "column4 AS at_risk_reason, column5 AS at_risk_cause FROM (VALUES "
            + ", ".join(["(%s, %s, %s, %s, %s)"] * len(milestones))
            + ")) AS v"
        )
        params = [value for row in zip(*columns, strict=True) for value in row]
    sql = (
        "UPDATE tracker_milestone SET forecast_date = v.forecast_date, at_risk = v.at_risk, "
        "at_risk_reason = v.at_risk_reason, at_risk_cause = v.at_risk_cause "
        f"FROM {source} WHERE tracker_milestone.id = v.id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _dependency_order(
    milestones: dict[int, ScheduleState], links: dict[int, list[_Link]]
) -> list[ScheduleState]:
    """The milestones with every one after its dependencies within the set (the graph has
    no cycles: the services refuse them)."""
    waiting = {
        pk: {k.depends_on_id for k in links[pk] if k.depends_on_id in milestones}
        for pk in milestones
    }
    dependents: dict[int, list[int]] = {pk: [] for pk in milestones}
    for pk, dependencies in waiting.items():
        for dependency in dependencies:
            dependents[dependency].append(pk)
    ready = sorted(pk for pk, dependencies in waiting.items() if not dependencies)
    ordered = []
    while ready:
        pk = ready.pop()
        ordered.append(milestones[pk])
        for dependent in dependents[pk]:
            waiting[dependent].discard(pk)
            if not waiting[dependent]:
                ready.append(dependent)
    return ordered


def _schedule(
    milestone: ScheduleState,
    links: list[_Link],
    milestones: dict[int, ScheduleState],
    upstream: dict[int, _Upstream],
    today: datetime.date,
) -> None:
    """Set the milestone's forecast, at-risk flag and reason from its dependencies'."""
    driver = None  # (date it allows, link, the dependency's title, target, actual, forecast)
    for link in links:
        dependency = milestones.get(link.depends_on_id) or upstream[link.depends_on_id]
        if dependency.forecast_date is None:
            continue  # cancelled, or no date at all: it holds nothing back
        allowed = dependency.forecast_date + datetime.timedelta(days=link.min_gap_days)
        if driver is None or allowed > driver[0]:
            driver = (allowed, link, dependency)

    if milestone.status == MilestoneStatus.CANCELLED:
        forecast = None
    elif milestone.actual_date:
        forecast = milestone.actual_date
    else:
        candidates = [d for d in (milestone.target_date, driver and driver[0]) if d]
        forecast = max(candidates, default=None)
    milestone.forecast_date = forecast

    reason = cause = ""
    is_open = milestone.status not in CLOSED_STATUSES and not milestone.actual_date
    target = milestone.target_date
    if is_open and target and forecast and forecast > target and driver:
        _, link, dependency = driver
        reason = _slip_reason(milestone, link, dependency)
        cause = f"after:{link.depends_on_id}:{link.min_gap_days}"  # no date: see above
    elif is_open and target and target < today:
        reason = f"target date {target.isoformat()} has passed"
        cause = PASSED_CAUSE
    milestone.at_risk = bool(cause)
    milestone.at_risk_reason = reason
    milestone.at_risk_cause = cause


def _slip_reason(milestone: ScheduleState, link: _Link, dependency) -> str:
    """ "public filing slipped to 2026-03-02; roadshow needs 15 days after it"."""
    when = dependency.forecast_date.isoformat()
    if dependency.actual_date:
        what = f"{dependency.title} happened on {when}"
    elif dependency.status == MilestoneStatus.DELAYED or (
        dependency.target_date and dependency.forecast_date > dependency.target_date
    ):
        what = f"{dependency.title} slipped to {when}"
    else:
        what = f"{dependency.title} is due on {when}"
    if link.min_gap_days:
        days = "1 day" if link.min_gap_days == 1 else f"{link.min_gap_days} days"
        need = f"{milestone.title} needs {days} after it"
    else:
        need = f"{milestone.title} cannot come before it"
    return (
        f"{what}; {need} (forecast {milestone.forecast_date.isoformat()}, "
        f"target {milestone.target_date.isoformat()})"
    )[:500]


def _changes(milestone: ScheduleState, before: list) -> dict:
    changes = {}
    for name, old in zip(SCHEDULE_FIELDS, before, strict=True):
        new = getattr(milestone, name)
        if old != new and name != "at_risk_cause":
            changes[name] = [
                old.isoformat() if isinstance(old, datetime.date) else old,
                new.isoformat() if isinstance(new, datetime.date) else new,
            ]
    return changes
