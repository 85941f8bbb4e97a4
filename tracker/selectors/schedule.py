"""Reads of the schedule: a process's milestones against their forecasts, and its critical
path (the chain of milestones that decides its last forecast date)."""

import datetime
from dataclasses import dataclass, field

from tracker.models import Milestone, MilestoneDependency, Process


@dataclass(frozen=True)
class ScheduleLink:
    """One dependency of a scheduled milestone, with what it allows."""

    depends_on_id: int
    min_gap_days: int
    title: str
    process_id: int
    forecast_date: datetime.date | None


@dataclass
class ScheduleEntry:
    milestone: Milestone
    links: list[ScheduleLink]
    critical: bool = False

    @property
    def slip_days(self) -> int | None:
        """Forecast (or actual) date minus target date in days: positive is late."""
        m = self.milestone
        if m.target_date and m.forecast_date:
            return (m.forecast_date - m.target_date).days
        return None


@dataclass
class Schedule:
    process: Process
    entries: list[ScheduleEntry]
    # Ids from the start of the critical path to the milestone that ends the process; the
    # first may belong to another process, when that is what holds this one back.
    critical_path: list[int] = field(default_factory=list)

    @property
    def end_date(self) -> datetime.date | None:
        return max(
            (e.milestone.forecast_date for e in self.entries if e.milestone.forecast_date),
            default=None,
        )


def process_schedule(*, process: Process) -> Schedule:
    """The process's milestones in order with their dependencies and critical flags, in two
    queries."""
    milestones = list(Milestone.objects.filter(process=process).order_by("position", "id"))
    return _schedule(process, milestones, _links([m.pk for m in milestones]))


def schedule_from_loaded(*, process: Process, milestones: list[Milestone]) -> Schedule:
    """``process_schedule`` from milestones already loaded in order with their
    ``dependency_links`` (and each link's ``depends_on``) prefetched, as the pages load
    them: no query."""
    links = {
        m.pk: [
            ScheduleLink(
                link.depends_on_id,
                link.min_gap_days,
                link.depends_on.title,
                link.depends_on.process_id,
                link.depends_on.forecast_date,
            )
            for link in sorted(m.dependency_links.all(), key=lambda k: k.depends_on_id)
        ]
        for m in milestones
    }
    return _schedule(process, milestones, links)


def _links(milestone_ids: list[int]) -> dict[int, list[ScheduleLink]]:
    links: dict[int, list[ScheduleLink]] = {pk: [] for pk in milestone_ids}
    rows = (
        MilestoneDependency.objects.filter(milestone_id__in=milestone_ids)
        .order_by("depends_on_id")
        .values_list(
            "milestone_id",
            "depends_on_id",
            "min_gap_days",
            "depends_on__title",
            "depends_on__process_id",
            "depends_on__forecast_date",
        )
    )
    for milestone_id, *link in rows:
        links[milestone_id].append(ScheduleLink(*link))
    return links


def _schedule(
    process: Process, milestones: list[Milestone], links: dict[int, list[ScheduleLink]]
) -> Schedule:
    entries = [ScheduleEntry(m, links.get(m.pk, [])) for m in milestones]
    schedule = Schedule(process, entries, _critical_path(entries))
    critical = set(schedule.critical_path)
    for entry in entries:
        entry.critical = entry.milestone.pk in critical
    return schedule


def _critical_path(entries: list[ScheduleEntry]) -> list[int]:
    """From the milestone with the latest forecast, back along the dependency whose forecast
    plus gap lands exactly on each forecast (the one with no slack), until a milestone that
    nothing holds back: its own target or actual date decides it."""
    by_id = {e.milestone.pk: e for e in entries}
    dated = [e for e in entries if e.milestone.forecast_date]
    if not dated:
        return []
    current = max(dated, key=lambda e: (e.milestone.forecast_date, e.milestone.position))
    path = [current.milestone.pk]
    while current is not None and not current.milestone.actual_date:
        forecast = current.milestone.forecast_date
        binding = [
            link
            for link in current.links
            if link.forecast_date
            and link.forecast_date + datetime.timedelta(days=link.min_gap_days) == forecast
        ]
        if not binding or any(link.depends_on_id in path for link in binding):
            break
        link = max(
            binding, key=lambda k: (k.process_id == current.milestone.process_id, k.min_gap_days)
        )
        path.append(link.depends_on_id)
        current = by_id.get(link.depends_on_id)  # None: the chain leaves the process here
    return path[::-1]
