"""Writes to milestones of every kind, each with its events, in one transaction."""

from collections.abc import Iterable, Mapping
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
from tracker.snapshots import (
    json_value,
    milestone_field_names,
    milestone_snapshot,
    subject_snapshot,
)

from .events import Actor, event_record
from .rows import row_lock, row_save

MODEL_FOR_KIND: dict[str, type[Milestone]] = {
    MilestoneKind.GENERIC: Milestone,
    MilestoneKind.FILING: Filing,
    MilestoneKind.AG_REVIEW: AgReview,
    MilestoneKind.IPO_STEP: IpoStep,
}
KIND_FOR_MODEL = {model: kind for kind, model in MODEL_FOR_KIND.items()}

# An arbitrary constant naming the advisory lock that guards the dependency graph.
_DEPENDENCY_LOCK_KEY = 7_201_520

# Fields callers may not set: identity, bookkeeping and the kind (fixed by the model).
_PROTECTED_FIELDS = {"id", "pk", "milestone_ptr", "kind", "version", "created_at", "updated_at"}


def milestone_create(
    *,
    actor: Actor,
    kind: str = MilestoneKind.GENERIC,
    data: Mapping[str, Any],
    depends_on: Iterable[Milestone] = (),
) -> Milestone:
    """Create a milestone of ``kind`` from ``data`` and record ``milestone.created``.

    Raises ValidationError (nothing saved) when the data breaks a rule.
    """
    model = MODEL_FOR_KIND.get(kind)
    if model is None:
        raise ValidationError({"kind": f"Unknown milestone kind {kind!r}."})
    _refuse_protected(model, data)
    milestone = model(kind=kind, **data)
    dependencies = list(depends_on)
    with transaction.atomic():
        if "position" not in data and milestone.process_id:
            milestone.position = _next_position(milestone.process_id)
        _validate(milestone)
        row_save(milestone)
        _set_dependencies(milestone, dependencies)
        event_record(
            type=EventType.MILESTONE_CREATED,
            actor=actor,
            process=milestone.process,
            milestone=milestone,
            snapshot=_snapshot(milestone),
        )
    return milestone


def milestone_update(
    *,
    actor: Actor,
    milestone: Milestone,
    data: Mapping[str, Any],
    depends_on: Iterable[Milestone] | None = None,
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
    """
    model = MODEL_FOR_KIND[milestone.kind]
    _refuse_protected(model, data)
    with transaction.atomic():
        current = row_lock(
            model, milestone.pk, expected_version=expected_version, label="milestone"
        )
        before = _facts(current)
        old_dependency_ids = _dependency_ids(current)
        for name, value in data.items():
            setattr(current, name, value)
        dependencies = list(depends_on) if depends_on is not None else None
        new_dependency_ids = (
            sorted(d.pk for d in dependencies) if dependencies is not None else old_dependency_ids
        )
        changes = {
            name: [old, new]
            for name, old in before.items()
            if old != (new := json_value(getattr(current, name)))
        }
        if new_dependency_ids != old_dependency_ids:
            changes["depends_on"] = [old_dependency_ids, new_dependency_ids]
        if not changes:
            return current
        _validate(current)
        current.version += 1
        row_save(current)
        if dependencies is not None:
            _set_dependencies(current, dependencies)
        if "process_id" in changes:
            changes["process"] = changes.pop("process_id")
        snapshot = _snapshot(current)
        for event_type, event_changes in _split_changes(changes):
            event_record(
                type=event_type,
                actor=actor,
                process=current.process,
                milestone=current,
                changes=event_changes,
                snapshot=snapshot,
            )
    return current


def milestone_delete(
    *, actor: Actor, milestone: Milestone, expected_version: int | None = None
) -> None:
    """Delete a milestone and record ``milestone.deleted`` with its last state."""
    model = MODEL_FOR_KIND[milestone.kind]
    with transaction.atomic():
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
            snapshot=_snapshot(current),
        )
        current.delete()


def would_create_cycle(milestone: Milestone, dependency_ids: Iterable[int]) -> bool:
    """True when depending on ``dependency_ids`` leads back to ``milestone``."""
    if milestone.pk is None:
        return False  # nothing can depend on a milestone that does not exist yet
    frontier = set(dependency_ids)
    seen: set[int] = set()
    while frontier:
        if milestone.pk in frontier:
            return True
        seen |= frontier
        frontier = (
            set(
                MilestoneDependency.objects.filter(milestone_id__in=frontier).values_list(
                    "depends_on_id", flat=True
                )
            )
            - seen
        )
    return False


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


def _set_dependencies(milestone: Milestone, dependencies: list[Milestone]) -> None:
    ids = {d.pk for d in dependencies}
    if milestone.pk in ids:
        raise ValidationError({"depends_on": "A milestone cannot depend on itself."})
    if ids:  # removing links cannot close a cycle; adding them can
        _lock_dependency_graph()
    if would_create_cycle(milestone, ids):
        raise ValidationError(
            {"depends_on": "These dependencies would form a cycle back to this milestone."}
        )
    MilestoneDependency.objects.filter(milestone=milestone).exclude(depends_on_id__in=ids).delete()
    existing = set(
        MilestoneDependency.objects.filter(milestone=milestone).values_list(
            "depends_on_id", flat=True
        )
    )
    MilestoneDependency.objects.bulk_create(
        MilestoneDependency(milestone=milestone, depends_on_id=pk) for pk in ids - existing
    )


def _lock_dependency_graph() -> None:
    """Serialize dependency changes until the transaction ends.

    Two concurrent saves (A -> B and B -> A) would each pass the cycle check against the
    other's uncommitted state; one transaction-scoped advisory lock makes them take turns.
    SQLite (the demo) already serializes writers with its IMMEDIATE transactions.
    """
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DEPENDENCY_LOCK_KEY])


def _next_position(process_id: int) -> int:
    highest = Milestone.objects.filter(process_id=process_id).aggregate(Max("position"))
    return (highest["position__max"] or 0) + 1


def _facts(milestone: Milestone) -> dict[str, Any]:
    return {
        name: json_value(getattr(milestone, name))
        for name in milestone_field_names(milestone)
        if name not in _PROTECTED_FIELDS
    }


def _dependency_ids(milestone: Milestone) -> list[int]:
    return sorted(
        MilestoneDependency.objects.filter(milestone=milestone).values_list(
            "depends_on_id", flat=True
        )
    )


def _snapshot(milestone: Milestone) -> dict:
    return subject_snapshot(
        milestone.process, milestone_snapshot(milestone, _dependency_ids(milestone))
    )


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
