"""Writes to processes, each with its events, in one transaction."""

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils.text import slugify

from tracker.models import EventType, Milestone, Process
from tracker.snapshots import json_value, process_snapshot, subject_snapshot

from .events import Actor, event_record
from .milestones import milestone_delete
from .rows import changed_fields, refuse_unknown_fields, row_lock, row_save
from .schedule import schedule_lock

_EDITABLE_FIELDS = ("organization", "kind", "title", "slug", "status", "summary")
_ALLOWED_FIELDS = (*_EDITABLE_FIELDS, "organization_id")


def process_create(*, actor: Actor, data: Mapping[str, Any]) -> Process:
    """Create a process and record ``process.created``. Raises ValidationError on bad data."""
    refuse_unknown_fields(data, _ALLOWED_FIELDS)
    process = Process(**data)
    if not process.slug and process.title:
        process.slug = slugify(process.title)[:100]
    with transaction.atomic():
        process.full_clean()
        row_save(process)
        event_record(
            type=EventType.PROCESS_CREATED,
            actor=actor,
            process=process,
            snapshot=_snapshot(process),
        )
    return process


def process_update(
    *,
    actor: Actor,
    process: Process,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> Process:
    """Apply ``data`` to a process; ``process.status_changed`` or ``process.updated``.

    Refuses a stale ``expected_version`` with ConcurrentUpdateError; writes no event when
    nothing changed.
    """
    refuse_unknown_fields(data, _ALLOWED_FIELDS)
    with transaction.atomic():
        current = row_lock(Process, process.pk, expected_version=expected_version, label="process")
        before = _facts(current)
        for name, value in data.items():
            setattr(current, name, value)
        after = _facts(current)
        changes = changed_fields(before, after)
        if not changes:
            return current
        current.version += 1
        current.full_clean()
        row_save(current)
        event_record(
            type=EventType.PROCESS_STATUS_CHANGED
            if "status" in changes
            else EventType.PROCESS_UPDATED,
            actor=actor,
            process=current,
            changes=changes,
            snapshot=_snapshot(current),
        )
    return current


def process_delete(*, actor: Actor, process: Process, expected_version: int | None = None) -> None:
    """Delete a process with its milestones; each milestone and the process get an event."""
    with transaction.atomic():
        # Before the process row: a milestone write holds the schedule lock while it locks
        # its process row (a new row's key), so the opposite order deadlocks.
        schedule_lock()
        current = row_lock(Process, process.pk, expected_version=expected_version, label="process")
        for milestone in Milestone.objects.filter(process=current).order_by("-position", "-id"):
            milestone_delete(actor=actor, milestone=milestone)
        event_record(
            type=EventType.PROCESS_DELETED,
            actor=actor,
            process=current,
            snapshot=_snapshot(current),
        )
        current.delete()


def _facts(process: Process) -> dict[str, Any]:
    facts = {
        name: json_value(getattr(process, name))
        for name in _EDITABLE_FIELDS
        if name != "organization"
    }
    facts["organization"] = process.organization_id
    return facts


def _snapshot(process: Process) -> dict:
    return {**subject_snapshot(process), "process": process_snapshot(process)}
