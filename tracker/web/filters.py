"""The filters of the Atom feed, the same as the events API's: ``organization`` (slug),
``process`` (id) and ``type`` (an event type; repeat it for several)."""

from dataclasses import dataclass

from django.core.validators import slug_re
from django.http import QueryDict

from tracker.models import EventType, Organization

from .selectors import MAX_ID, organization_get, process_id_known


class FilterError(ValueError):
    """A filter value that cannot be used; the message says why (shown with a 400)."""


@dataclass(frozen=True)
class EventFilters:
    organization: Organization | None = None
    process_id: int | None = None
    types: tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return self.organization is None and self.process_id is None and not self.types


def _single(query: QueryDict, name: str) -> str:
    values = [value.strip() for value in query.getlist(name) if value.strip()]
    if len(values) > 1:
        raise FilterError(f"Give at most one {name!r}; got {len(values)}.")
    return values[0] if values else ""


def event_filters_parse(query: QueryDict) -> EventFilters:
    """Read the filters from a query string; raises FilterError for a value that is not usable.

    An empty value means "no filter", as in the API. Unknown organizations, processes and
    event types are refused rather than answered with an empty feed, so a typo shows up.
    """
    organization = None
    if slug := _single(query, "organization"):
        if not slug_re.match(slug):
            raise FilterError(
                f"'organization' must be an organization's slug (letters, digits, - and _), "
                f"not {slug!r}."
            )
        organization = organization_get(slug=slug)
        if organization is None:
            raise FilterError(f"No organization has the slug {slug!r}.")

    process_id = None
    if raw := _single(query, "process"):
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
            raise FilterError(
                f"'process' must be a process id (a positive whole number), not {raw!r}."
            )
        process_id = int(raw)
        if not process_id_known(pk=process_id):
            raise FilterError(f"No process has the id {process_id}.")

    types = tuple(dict.fromkeys(value.strip() for value in query.getlist("type") if value.strip()))
    unknown = [value for value in types if value not in EventType.values]
    if unknown:
        raise FilterError(
            f"Unknown event type {unknown[0]!r}. Known types: {', '.join(EventType.values)}."
        )
    return EventFilters(organization=organization, process_id=process_id, types=types)
