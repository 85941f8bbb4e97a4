"""Events as people read them: who did what to which milestone, and what changed.

Everything comes from ``tracker.snapshots.event_payload`` (the public shape of an event), so
pages and feeds say the same thing as webhooks and the API, and history stays readable after
the milestone or process has been changed or deleted.
"""

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.text import Truncator, capfirst

from tracker.models import (
    AgReview,
    Event,
    EventType,
    Filing,
    IpoStep,
    Milestone,
    Organization,
    Process,
)
from tracker.snapshots import event_payload

from .selectors import milestone_title_map

# Where to look up a changed field's label and choices, by the kind of subject.
_MILESTONE_MODELS: tuple[type[models.Model], ...] = (Milestone, Filing, AgReview, IpoStep)
_PROCESS_MODELS: tuple[type[models.Model], ...] = (Process,)
_ORGANIZATION_MODELS: tuple[type[models.Model], ...] = (Organization,)
_LONG_TEXT = 160


@dataclass(frozen=True)
class Change:
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class EventView:
    uuid: str
    sequence: int | None
    type: str
    type_label: str
    occurred_at: datetime.datetime
    actor_name: str
    actor_is_system: bool
    organization_name: str
    process_title: str
    milestone_title: str
    link: str
    changes: list[Change]
    # For milestone.at_risk: why, in words (from the milestone as it stood then).
    risk_reason: str = ""

    @property
    def subject(self) -> str:
        """The milestone's title for milestone events, the process's for process events,
        the organization's name for its own."""
        return self.milestone_title or self.process_title or self.organization_name

    @property
    def headline(self) -> str:
        return f"{self.type_label}: {self.subject}"


def describe_events(events: Iterable[Event]) -> list[EventView]:
    """Readable views of events, in the order given; at most one query (dependency titles)."""
    events = list(events)
    payloads = [event_payload(event) for event in events]
    dependency_ids = {
        pk
        for payload in payloads
        for values in [payload["changes"].get("depends_on")]
        if values
        for side in values
        for pk in side or ()
    } | {
        int(pk)
        for payload in payloads
        for values in [payload["changes"].get("min_gap_days")]
        if values
        for side in values
        for pk in side or ()
    }
    titles = milestone_title_map(ids=dependency_ids) if dependency_ids else {}
    return [
        _event_view(event, payload, titles) for event, payload in zip(events, payloads, strict=True)
    ]


def _event_view(event: Event, payload: dict, titles: dict[int, str]) -> EventView:
    organization = payload["organization"] or {}
    process = payload["process"] or {}
    milestone = payload["milestone"] or {}
    is_milestone_event = event.type.startswith("milestone.")
    subject_models = _MILESTONE_MODELS if is_milestone_event else _PROCESS_MODELS
    # event_list() says whether the process is still there; a deleted one has no page.
    process_exists = getattr(event, "process_exists", True)
    link = reverse("web_dashboard")
    if event.process_id is None:
        subject_models = _ORGANIZATION_MODELS
        # Where the organization's page is now (its slug may have changed since).
        slug = getattr(event, "organization_slug", organization.get("slug"))
        if slug and event.type != EventType.ORGANIZATION_DELETED:
            link = reverse("web_organization", args=[slug])
    elif process_exists:
        link = reverse("web_process", args=[event.process_id])
        if milestone.get("id") and event.type != EventType.MILESTONE_DELETED:
            link += f"#milestone-{milestone['id']}"
    return EventView(
        uuid=payload["id"],
        sequence=payload["sequence"],
        type=event.type,
        type_label=_type_label(event.type),
        occurred_at=event.occurred_at,
        actor_name=payload["actor"]["name"],
        actor_is_system=payload["actor"]["type"] == "system",
        organization_name=organization.get("name", ""),
        process_title=process.get("title", ""),
        milestone_title=milestone.get("title", "") if is_milestone_event else "",
        link=link,
        changes=[
            Change(
                label=_field_label(name, subject_models),
                old=_value_text(name, old, subject_models, titles),
                new=_value_text(name, new, subject_models, titles),
            )
            for name, (old, new) in payload["changes"].items()
        ],
        risk_reason=milestone.get("at_risk_reason") or ""
        if event.type == EventType.MILESTONE_AT_RISK
        else "",
    )


def _type_label(value: str) -> str:
    try:
        return EventType(value).label
    except ValueError:
        return value


def _model_field(name: str, subject_models: tuple[type[models.Model], ...]):
    for model in subject_models:
        try:
            return model._meta.get_field(name)
        except FieldDoesNotExist:
            continue
    return None


def _field_label(name: str, subject_models: tuple[type[models.Model], ...]) -> str:
    if name == "depends_on":
        return "Depends on"
    if name == "min_gap_days":
        return "Minimum gaps"
    model_field = _model_field(name, subject_models)
    if model_field is None or not hasattr(model_field, "verbose_name"):
        return capfirst(name.replace("_", " "))
    return capfirst(str(model_field.verbose_name))


def _value_text(
    name: str,
    value: Any,
    subject_models: tuple[type[models.Model], ...],
    titles: dict[int, str],
) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if name == "depends_on":
        return ", ".join(titles.get(pk, f"milestone #{pk}") for pk in value)
    if name == "min_gap_days":  # {"<dependency id>": days}
        return ", ".join(
            f"{titles.get(int(pk), f'milestone #{pk}')}: {days} day{'s' if days != 1 else ''}"
            for pk, days in value.items()
        )
    if name == "process":
        return f"process #{value}"
    if name == "organization":
        return f"organization #{value}"
    model_field = _model_field(name, subject_models)
    if model_field is not None and getattr(model_field, "choices", None):
        return str(dict(model_field.choices).get(value, value))
    if isinstance(model_field, models.DateField) and isinstance(value, str):
        try:
            return date_format(datetime.date.fromisoformat(value), "j M Y")
        except ValueError:
            return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    return Truncator(str(value)).chars(_LONG_TEXT)
