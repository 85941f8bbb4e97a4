"""Writes to milestones of every kind, each with its events, in one transaction."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max

from tracker.models import (
    AgReview,
    EventType,
    Filing,
    IpoStep,
    Milestone,
    MilestoneDependency,
    MilestoneKind,
)
from tracker.models.milestones import MAX_GAP_DAYS, MAX_POSITION
from tracker.snapshots import (
    json_value,
    milestone_field_names,
    milestone_snapshot,
    subject_snapshot,
)

from .events import Actor, event_record, event_row, events_record
from .rows import row_lock, row_save
from .schedule import SCHEDULE_FIELDS, schedule_lock, schedule_propagate, upstream_ids

MODEL_FOR_KIND: dict[str, type[Milestone]] = {
    MilestoneKind.GENERIC: Milestone,
    MilestoneKind.FILING: Filing,
    MilestoneKind.AG_REVIEW: AgReview,
    MilestoneKind.IPO_STEP: IpoStep,
}
KIND_FOR_MODEL = {model: kind for kind, model in MODEL_FOR_KIND.items()}

# Fields callers may not set: identity, bookkeeping, the kind (fixed by the model) and the
# schedule (computed by tracker.services.schedule).
_PROTECTED_FIELDS = {
    "id",
    "pk",
    "milestone_ptr",
    "kind",
    "version",
    "created_at",
    "updated_at",
    *SCHEDULE_FIELDS,
}
# A change to one of these can move forecasts downstream (or, for the title, reword the
# at-risk reasons that name it).
_SCHEDULE_INPUTS = {"title", "status", "target_date", "actual_date", "depends_on", "min_gap_days"}


@dataclass(frozen=True)
class Dependency:
    """A dependency with its minimum gap in days; ``None`` keeps the gap an existing link
    has (0 for a new one), so callers that only know ids never erase gaps."""

    milestone: Milestone
    min_gap_days: int | None = None


# What services take as ``depends_on``: milestones (gap kept, or 0) or Dependency objects.
DependencyInput = Milestone | Dependency


def milestone_create(
    *,
    actor: Actor,
    kind: str = MilestoneKind.GENERIC,
    data: Mapping[str, Any],
    depends_on: Iterable[DependencyInput] = (),
) -> Milestone:
    """Create a milestone of ``kind`` from ``data`` and record ``milestone.created``
    (and ``milestone.at_risk`` when its dependencies already make it late).

    Raises ValidationError (nothing saved) when the data breaks a rule.
    """
    model = MODEL_FOR_KIND.get(kind)
    if model is None:
        raise ValidationError({"kind": f"Unknown milestone kind {kind!r}."})
    _refuse_protected(model, data)
    milestone = model(kind=kind, **data)
    dependencies = list(depends_on)
    with transaction.atomic():
        schedule_lock()
        if "position" not in data and milestone.process_id:
            milestone.position = _next_position(milestone.process_id)
        _validate(milestone)
        row_save(milestone)
        gaps = _gaps(dependencies, {})
        _set_dependencies(milestone, gaps, None)
        propagation = _propagate(actor, milestone)
        created = event_row(
            type=EventType.MILESTONE_CREATED,
            actor=actor,
            process=milestone.process,
            milestone=milestone,
            snapshot=_snapshot(milestone, gaps),
        )
        events_record([created, *propagation.events])
    return milestone


def milestone_update(
    *,
    actor: Actor,
    milestone: Milestone,
    data: Mapping[str, Any],
    depends_on: Iterable[DependencyInput] | None = None,
    expected_version: int | None = None,
) -> Milestone:
    """Apply ``data`` (and, when given, the new dependency set) to a milestone.

    ``expected_version`` is the version the caller read; when the row has moved on since,
    ConcurrentUpdateError is raised and nothing changes. A save that changes nothing writes
    no event. Otherwise the changes (``{field: [old, new]}``) are split over up to three
    events so that each type means one thing to its subscribers:
    ``milestone.status_changed`` (the status, and the actual date that came with it),
    ``milestone.date_changed`` (target or actual date moves) and ``milestone.updated``
    (everything else). A slip, "delayed with a new target date", is thus both a status
    change and a date change.

    A change to the status, a date or a dependency recomputes the forecasts downstream
    (tracker.services.schedule) in the same transaction; each milestone it puts at risk or
    back on track gets its event after the change's own.
    """
    model = MODEL_FOR_KIND[milestone.kind]
    _refuse_protected(model, data)
    with transaction.atomic():
        schedule_lock()
        current = row_lock(
            model, milestone.pk, expected_version=expected_version, label="milestone"
        )
        before = _facts(current)
        old_gaps = _dependency_gaps(current)
        for name, value in data.items():
            setattr(current, name, value)
        new_gaps = _gaps(depends_on, old_gaps) if depends_on is not None else old_gaps
        changes = {
            name: [old, new]
            for name, old in before.items()
            if old != (new := json_value(getattr(current, name)))
        }
        if sorted(new_gaps) != sorted(old_gaps):
            changes["depends_on"] = [sorted(old_gaps), sorted(new_gaps)]
        if _gap_facts(new_gaps) != _gap_facts(old_gaps):
            changes["min_gap_days"] = [_gap_facts(old_gaps), _gap_facts(new_gaps)]
        if not changes:
            return current
        _validate(current)
        current.version += 1
        row_save(current)
        if new_gaps != old_gaps:
            _set_dependencies(current, new_gaps, old_gaps)
        if "process_id" in changes:
            changes["process"] = changes.pop("process_id")
        propagation = None
        if _SCHEDULE_INPUTS & set(changes):
            propagation = _propagate(actor, current)
        snapshot = _snapshot(current, new_gaps)
        events = [
            event_row(
                type=event_type,
                actor=actor,
                process=current.process,
                milestone=current,
                changes=event_changes,
                snapshot=snapshot,
            )
            for event_type, event_changes in _split_changes(changes)
        ]
        events_record([*events, *(propagation.events if propagation else [])])
    return current


def milestone_delete(
    *, actor: Actor, milestone: Milestone, expected_version: int | None = None
) -> None:
    """Delete a milestone and record ``milestone.deleted`` with its last state."""
    model = MODEL_FOR_KIND[milestone.kind]
    with transaction.atomic():
        schedule_lock()
        current = row_lock(
            model, milestone.pk, expected_version=expected_version, label="milestone"
        )
        # Milestones that depended on this one lose that link: record it on each of them
        # (an event and a new version) rather than let the cascade change them silently.
        for dependent in Milestone.objects.filter(dependency_links__depends_on=current):
            remaining = dependent.depends_on.exclude(pk=current.pk)
            milestone_update(
                actor=actor, milestone=dependent.typed(), data={}, depends_on=list(remaining)
            )
        event_record(
            type=EventType.MILESTONE_DELETED,
            actor=actor,
            process=current.process,
            milestone=current,
            snapshot=_snapshot(current, _dependency_gaps(current)),
        )
        current.delete()


def would_create_cycle(milestone: Milestone, dependency_ids: Iterable[int]) -> bool:
    """True when depending on ``dependency_ids`` leads back to ``milestone``: when it is
    upstream of (or one of) them. One recursive query, however long the chain."""
    ids = set(dependency_ids)
    if milestone.pk is None or not ids:
        return False  # nothing can depend on a milestone that does not exist yet
    return milestone.pk in upstream_ids(ids)


def _refuse_protected(model: type[Milestone], data: Mapping[str, Any]) -> None:
    known = {f.name for f in model._meta.concrete_fields} | {
        f.attname for f in model._meta.concrete_fields
    }
    errors = {
        name: "This field cannot be set." if name in _PROTECTED_FIELDS else "Unknown field."
        for name in data
        if name in _PROTECTED_FIELDS or name not in known
    }
    if errors:
        raise ValidationError(errors)


def _validate(milestone: Milestone) -> None:
    milestone.full_clean()


def _gaps(dependencies: Iterable[DependencyInput], existing: dict[int, int]) -> dict[int, int]:
    """``{dependency id: minimum gap}`` for the given dependencies; a gap left unsaid is the
    existing link's, or 0."""
    gaps: dict[int, int] = {}
    for item in dependencies:
        if isinstance(item, Dependency):
            pk, gap = item.milestone.pk, item.min_gap_days
        else:
            pk, gap = item.pk, None
        if gap is None:
            gap = existing.get(pk, 0)
        if isinstance(gap, bool) or not isinstance(gap, int) or not 0 <= gap <= MAX_GAP_DAYS:
            raise ValidationError(
                {"depends_on": f"A minimum gap is 0 to {MAX_GAP_DAYS} days, not {gap!r}."}
            )
        gaps[pk] = gap
    return gaps


def _set_dependencies(
    milestone: Milestone, gaps: dict[int, int], existing: dict[int, int] | None
) -> None:
    """Replace the milestone's links (``existing``, its current gaps) with ``gaps``.

    ``existing`` is None for a milestone saved just now in this transaction: it has no
    links and nothing depends on it, so its links cannot close a cycle. Otherwise only the
    links added can (the graph has none). The caller holds the schedule lock, so no
    concurrent save closes one behind the check.
    """
    ids = set(gaps)
    if milestone.pk in ids:
        raise ValidationError({"depends_on": "A milestone cannot depend on itself."})
    if existing is None:
        existing = {}
    else:
        if would_create_cycle(milestone, ids - set(existing)):
            raise ValidationError(
                {"depends_on": "These dependencies would form a cycle back to this milestone."}
            )
        MilestoneDependency.objects.filter(milestone=milestone).exclude(
            depends_on_id__in=ids
        ).delete()
    for pk, gap in gaps.items():
        if pk in existing and existing[pk] != gap:
            MilestoneDependency.objects.filter(milestone=milestone, depends_on_id=pk).update(
                min_gap_days=gap
            )
    MilestoneDependency.objects.bulk_create(
        MilestoneDependency(milestone=milestone, depends_on_id=pk, min_gap_days=gaps[pk])
        for pk in ids - set(existing)
    )


def _propagate(actor: Actor, milestone: Milestone):
    """Recompute the schedule from ``milestone`` down, and show the result on it."""
    propagation = schedule_propagate(actor=actor, milestone_ids=[milestone.pk])
    recomputed = propagation.states[milestone.pk]
    for name in SCHEDULE_FIELDS:
        setattr(milestone, name, getattr(recomputed, name))
    return propagation


def _next_position(process_id: int) -> int:
    highest = Milestone.objects.filter(process_id=process_id).aggregate(Max("position"))
    # After a milestone placed at the very last position, the next one shares it (ties are
    # ordered by target date, then id) rather than overflowing the column.
    return min((highest["position__max"] or 0) + 1, MAX_POSITION)


def _facts(milestone: Milestone) -> dict[str, Any]:
    return {
        name: json_value(getattr(milestone, name))
        for name in milestone_field_names(milestone)
        if name not in _PROTECTED_FIELDS
    }


def _dependency_gaps(milestone: Milestone) -> dict[int, int]:
    return dict(
        MilestoneDependency.objects.filter(milestone=milestone).values_list(
            "depends_on_id", "min_gap_days"
        )
    )


def _gap_facts(gaps: dict[int, int]) -> dict[str, int]:
    """The gaps as an event shows them: ``{"<dependency id>": days}``, zero gaps left out."""
    return {str(pk): gap for pk, gap in sorted(gaps.items()) if gap}


def _snapshot(milestone: Milestone, gaps: dict[int, int]) -> dict:
    """The milestone as events show it; ``gaps`` are its dependencies as just saved."""
    return subject_snapshot(milestone.process, milestone_snapshot(milestone, sorted(gaps)))


def _split_changes(changes: dict) -> list[tuple[str, dict]]:
    """Group a save's changes into the events that describe it (see milestone_update)."""
    remaining = dict(changes)
    groups = []
    if "status" in remaining:
        moved = [name for name in ("status", "actual_date") if name in remaining]
        groups.append(
            (EventType.MILESTONE_STATUS_CHANGED, {name: remaining.pop(name) for name in moved})
        )
    moved = [name for name in ("target_date", "actual_date") if name in remaining]
    if moved:
        groups.append(
            (EventType.MILESTONE_DATE_CHANGED, {name: remaining.pop(name) for name in moved})
        )
    if remaining:
        groups.append((EventType.MILESTONE_UPDATED, remaining))
    return groups
