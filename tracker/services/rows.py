"""What every write service does to the row it changes: refuse fields it may not set, lock
the row at the version the caller read, and save it with the database's refusals turned
into validation errors."""

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from .errors import ConcurrentUpdateError


def refuse_unknown_fields(data: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """Raise ValidationError naming every key of ``data`` outside ``allowed``."""
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValidationError({name: "This field cannot be set." for name in unknown})


def row_lock(
    model: type[models.Model], pk: int, *, expected_version: int | None, label: str
) -> models.Model:
    """The row, locked until the transaction ends; ConcurrentUpdateError when it has moved on
    from ``expected_version`` (None: the caller read no version)."""
    current = model.objects.select_for_update().get(pk=pk)
    if expected_version is not None and current.version != expected_version:
        raise ConcurrentUpdateError(label=label, expected=expected_version, current=current.version)
    return current


def row_save(row: models.Model, *, refusal: str | None = None) -> None:
    """Save ``row`` inside a savepoint.

    full_clean has checked uniqueness and constraints, but a concurrent save can still win
    the race; the database's refusal then becomes a ValidationError (``refusal``, or one
    naming the database's reason), not a server error.
    """
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError as error:
        label = row._meta.verbose_name
        raise ValidationError(refusal or f"The database refused this {label}: {error}") from error


def changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list]:
    """``{field: [old, new]}`` for each field whose value differs: an update event's
    ``changes``."""
    return {name: [before[name], after[name]] for name in before if before[name] != after[name]}
