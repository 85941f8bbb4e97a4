"""JSON shapes of the record as stored in events, and the versioned event payload.

The event payload is what webhooks send as ``data``, what the events API returns and what
feeds render. It is built from the event row alone (no queries), so it stays correct after
the milestone or process it describes has been changed or deleted.
"""

import datetime
import decimal
from typing import Any

from django.db import models

from .models import Event, Milestone, Organization, Process

PAYLOAD_VERSION = 1

# Fields that are bookkeeping rather than facts about the milestone.
_SKIPPED_FIELDS = {"id", "milestone_ptr", "created_at", "updated_at", "at_risk_cause"}


def json_value(value: Any) -> Any:
    """A JSON-safe form of a model field value (dates as ISO strings, decimals as strings)."""
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return value.pk
    return value


def milestone_field_names(milestone: Milestone) -> list[str]:
    """The editable facts of a milestone of this concrete kind, in model order."""
    return [
        field.attname if field.is_relation else field.name
        for field in milestone._meta.concrete_fields
        if field.name not in _SKIPPED_FIELDS
    ]


def organization_summary(organization: Organization) -> dict:
    return {"id": organization.pk, "slug": organization.slug, "name": organization.name}


def organization_snapshot(organization: Organization) -> dict:
    """Every fact of an organization, as stored in its own events."""
    return {
        **organization_summary(organization),
        "cik": organization.cik,
        "ticker": organization.ticker,
        "state_of_incorporation": organization.state_of_incorporation,
        "website": organization.website,
        "follow_edgar": organization.follow_edgar,
        "version": organization.version,
    }


def process_summary(process: Process) -> dict:
    return {
        "id": process.pk,
        "slug": process.slug,
        "title": process.title,
        "kind": process.kind,
        "status": process.status,
    }


def milestone_snapshot(milestone: Milestone, depends_on_ids: list[int]) -> dict:
    """Every fact of the milestone (typed fields included), as stored in its events."""
    data = {"id": milestone.pk}
    for name in milestone_field_names(milestone):
        data[name] = json_value(getattr(milestone, name))
    data["process"] = data.pop("process_id")
    data["depends_on"] = sorted(depends_on_ids)
    return data


def process_snapshot(process: Process) -> dict:
    return {
        **process_summary(process),
        "organization": process.organization_id,
        "summary": process.summary,
        "version": process.version,
    }


def subject_snapshot(process: Process, milestone_data: dict | None = None) -> dict:
    """What an event stores: the organization, the process and, for milestones, the milestone."""
    return {
        "organization": organization_summary(process.organization),
        "process": process_summary(process),
        "milestone": milestone_data,
    }


def event_payload(event: Event) -> dict:
    """The versioned, public shape of an event (webhook ``data``, API, feeds)."""
    snapshot = event.snapshot
    return {
        "version": event.payload_version,
        "id": str(event.uuid),
        "sequence": event.sequence,
        "type": event.type,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": {
            "type": "user" if event.actor_id else "system",
            "name": event.actor_name,
        },
        "organization": snapshot.get("organization"),
        "process": snapshot.get("process"),
        "milestone": snapshot.get("milestone"),
        "changes": event.changes,
    }
