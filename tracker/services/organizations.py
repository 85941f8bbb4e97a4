"""Writes to organizations. Organizations have no event types of their own; their
processes and milestones carry the organization in every event."""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.text import slugify

from tracker.models import Organization

from .errors import ConcurrentUpdateError

_EDITABLE_FIELDS = {"name", "slug", "cik", "ticker", "state_of_incorporation", "website"}


def organization_create(*, data: Mapping[str, Any]) -> Organization:
    """Create an organization; the CIK is zero-padded. Raises ValidationError on bad data."""
    _refuse_unknown(data)
    organization = Organization(**data)
    if not organization.slug and organization.name:
        organization.slug = slugify(organization.name)[:100]
    with transaction.atomic():
        organization.full_clean()
        _save(organization)
    return organization


def organization_update(
    *, organization: Organization, data: Mapping[str, Any], expected_version: int | None = None
) -> Organization:
    """Apply ``data``; refuses a stale ``expected_version`` with ConcurrentUpdateError."""
    _refuse_unknown(data)
    with transaction.atomic():
        current = Organization.objects.select_for_update().get(pk=organization.pk)
        if expected_version is not None and current.version != expected_version:
            raise ConcurrentUpdateError(
                label="organization", expected=expected_version, current=current.version
            )
        before = {name: getattr(current, name) for name in _EDITABLE_FIELDS}
        for name, value in data.items():
            setattr(current, name, value)
        current.full_clean()
        if before == {name: getattr(current, name) for name in _EDITABLE_FIELDS}:
            return current
        current.version += 1
        _save(current)
    return current


def organization_delete(*, organization: Organization, expected_version: int | None = None) -> None:
    """Delete an organization that has no processes left.

    Refuses a stale ``expected_version`` with ConcurrentUpdateError.
    """
    with transaction.atomic():
        current = Organization.objects.select_for_update().get(pk=organization.pk)
        if expected_version is not None and current.version != expected_version:
            raise ConcurrentUpdateError(
                label="organization", expected=expected_version, current=current.version
            )
        if current.processes.exists():
            raise ValidationError(
                "This organization still has processes; delete or move them first."
            )
        current.delete()


def _refuse_unknown(data: Mapping[str, Any]) -> None:
    unknown = sorted(set(data) - _EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in unknown})


def _save(organization: Organization) -> None:
    # full_clean checked uniqueness, but a concurrent save can still take the slug or CIK
    # first; the database's refusal becomes the same kind of error, not a server error.
    try:
        with transaction.atomic():
            organization.save()
    except IntegrityError as error:
        raise ValidationError(
            "Another organization has just taken this slug or CIK; choose another."
        ) from error
