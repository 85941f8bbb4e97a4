"""Writes to organizations. Organizations have no event types of their own; their
processes and milestones carry the organization in every event."""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from tracker.models import Organization

from .rows import refuse_unknown_fields, row_lock, row_save

_EDITABLE_FIELDS = {
    "name",
    "slug",
    "cik",
    "ticker",
    "state_of_incorporation",
    "website",
    "follow_edgar",
}
_TAKEN = "Another organization has just taken this slug or CIK; choose another."


def organization_create(*, data: Mapping[str, Any]) -> Organization:
    """Create an organization; the CIK is zero-padded. Raises ValidationError on bad data."""
    refuse_unknown_fields(data, _EDITABLE_FIELDS)
    organization = Organization(**data)
    if not organization.slug and organization.name:
        organization.slug = slugify(organization.name)[:100]
    with transaction.atomic():
        organization.full_clean()
        row_save(organization, refusal=_TAKEN)
    return organization


def organization_update(
    *, organization: Organization, data: Mapping[str, Any], expected_version: int | None = None
) -> Organization:
    """Apply ``data``; refuses a stale ``expected_version`` with ConcurrentUpdateError."""
    refuse_unknown_fields(data, _EDITABLE_FIELDS)
    with transaction.atomic():
        current = row_lock(
            Organization, organization.pk, expected_version=expected_version, label="organization"
        )
        before = {name: getattr(current, name) for name in _EDITABLE_FIELDS}
        for name, value in data.items():
            setattr(current, name, value)
        current.full_clean()
        if before == {name: getattr(current, name) for name in _EDITABLE_FIELDS}:
            return current
        current.version += 1
        row_save(current, refusal=_TAKEN)
    return current


def organization_delete(*, organization: Organization, expected_version: int | None = None) -> None:
    """Delete an organization that has no processes left.

    Refuses a stale ``expected_version`` with ConcurrentUpdateError.
    """
    with transaction.atomic():
        current = row_lock(
            Organization, organization.pk, expected_version=expected_version, label="organization"
        )
        if current.processes.exists():
            raise ValidationError(
                "This organization still has processes; delete or move them first."
            )
        current.delete()
