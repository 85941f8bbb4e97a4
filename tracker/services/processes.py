"""Writes to processes, each with its events, in one transaction."""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from tracker.models import EventType, Milestone, Process
from tracker.snapshots import json_value, process_snapshot, subject_snapshot

from .errors import ConcurrentUpdateError
from .events import Actor, event_record
from .milestones import milestone_delete

_EDITABLE_FIELDS = ("organization", "kind", "title", "slug", "status", "summary")


def process_create(*, actor: Actor, data: Mapping[str, Any]) -> Process:
    """Create a process and record ``process.created``. Raises ValidationError on bad data."""
    _refuse_unknown(data)
    process = Process(**data)
    if not process.slug and process.title:
        process.slug = slugify(process.title)[:100]
    with transaction.atomic():
        _validate_and_save(process)
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
    _refuse_unknown(data)
    with transaction.atomic():
        current = Process.objects.select_for_update().get(pk=process.pk)
        if expected_version is not None and current.version != expected_version:
            raise ConcurrentUpdateError(
                label="process", expected=expected_version, current=current.version
            )
        before = _facts(current)
        for name, value in data.items():
            setattr(current, name, value)
        after = _facts(current)
        changes = {
            name: [before[name], after[name]] for name in before if before[name] != after[name]
        }
        if not changes:
            return current
        current.version += 1
        _validate_and_save(current)
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
        current = Process.objects.select_for_update().get(pk=process.pk)
        if expected_version is not None and current.version != expected_version:
            raise ConcurrentUpdateError(
                label="process", expected=expected_version, current=current.version
            )
        for milestone in Milestone.objects.filter(process=current).order_by("-position", "-id"):
            milestone_delete(actor=actor, milestone=milestone)
        event_record(
            type=EventType.PROCESS_DELETED,
            actor=actor,
            process=current,
            snapshot=_snapshot(current),
        )
        current.delete()


def _refuse_unknown(data: Mapping[str, Any]) -> None:
    unknown = sorted(set(data) - set(_EDITABLE_FIELDS) - {"organization_id"})
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in unknown})


def _facts(process: Process) -> dict[str, Any]:
    facts = {
        name: json_value(getattr(process, name))
        for name in _EDITABLE_FIELDS
        if name != "organization"
    }
    facts["organization"] = process.organization_id
    return facts


def _validate_and_save(process: Process) -> None:
    process.full_clean()
    try:
        with transaction.atomic():
            process.save()
    except IntegrityError as error:
        raise ValidationError(f"The database refused this process: {error}") from error


def _snapshot(process: Process) -> dict:
    return {**subject_snapshot(process), "process": process_snapshot(process)}
