"""Writes to organizations, each with its event (``organization.created|updated|deleted``)
in one transaction. Their processes and milestones carry the organization in every event
of their own."""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from tracker.models import EventType, Organization
from tracker.snapshots import json_value, organization_snapshot

from .events import Actor, event_record
from .rows import changed_fields, refuse_unknown_fields, row_lock, row_save

_EDITABLE_FIELDS = (
    "name",
    "slug",
    "cik",
    "ticker",
    "state_of_incorporation",
    "website",
    "follow_edgar",
)
_TAKEN = "Another organization has just taken this slug or CIK; choose another."


def organization_create(*, actor: Actor, data: Mapping[str, Any]) -> Organization:
    """Create an organization and record ``organization.created``; the CIK is zero-padded.
    Raises ValidationError on bad data."""
    refuse_unknown_fields(data, _EDITABLE_FIELDS)
    organization = Organization(**data)
    if not organization.slug and organization.name:
        organization.slug = slugify(organization.name)[:100]
    with transaction.atomic():
        organization.full_clean()
        row_save(organization, refusal=_TAKEN)
        _record(EventType.ORGANIZATION_CREATED, actor, organization)
    return organization


def organization_update(
    *,
    actor: Actor,
    organization: Organization,
    data: Mapping[str, Any],
    expected_version: int | None = None,
) -> Organization:
    """Apply ``data`` and record ``organization.updated`` with what changed; writes no event
    when nothing did. Refuses a stale ``expected_version`` with ConcurrentUpdateError."""
    refuse_unknown_fields(data, _EDITABLE_FIELDS)
    with transaction.atomic():
        current = row_lock(
            Organization, organization.pk, expected_version=expected_version, label="organization"
        )
        before = _facts(current)
        for name, value in data.items():
            setattr(current, name, value)
        current.full_clean()
        after = _facts(current)
        changes = changed_fields(before, after)
        if not changes:
            return current
        current.version += 1
        row_save(current, refusal=_TAKEN)
        _record(EventType.ORGANIZATION_UPDATED, actor, current, changes=changes)
    return current


def organization_delete(
    *, actor: Actor, organization: Organization, expected_version: int | None = None
) -> None:
    """Delete an organization that has no processes left, recording ``organization.deleted``
    (with the organization as it was). Refuses a stale ``expected_version`` with
    ConcurrentUpdateError."""
    with transaction.atomic():
        current = row_lock(
            Organization, organization.pk, expected_version=expected_version, label="organization"
        )
        if current.processes.exists():
            raise ValidationError(
                "This organization still has processes; delete or move them first."
            )
        _record(EventType.ORGANIZATION_DELETED, actor, current)
        current.delete()


def _facts(organization: Organization) -> dict[str, Any]:
    return {name: json_value(getattr(organization, name)) for name in _EDITABLE_FIELDS}


def _record(
    type: str, actor: Actor, organization: Organization, changes: dict | None = None
) -> None:
    event_record(
        type=type,
        actor=actor,
        process=None,
        organization=organization,
        changes=changes,
        snapshot={
            "organization": organization_snapshot(organization),
            "process": None,
            "milestone": None,
        },
    )
