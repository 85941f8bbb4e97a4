"""Appending to the event log. Only services call this, inside their own transaction."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from tracker.alerts.queue import event_dispatch_enqueue
from tracker.models import Event, Milestone, Process
from tracker.snapshots import PAYLOAD_VERSION

# Who made a change: a user, or the name of a system source ("scheduler", "importer:sec").
Actor = AbstractBaseUser | str


def actor_fields(actor: Actor) -> dict:
    if isinstance(actor, str):
        if not actor:
            raise ValueError("A system actor needs a name.")
        return {"actor": None, "actor_name": actor}
    return {"actor": actor, "actor_name": actor.get_username()}


def event_record(
    *,
    type: str,
    actor: Actor,
    process: Process,
    snapshot: dict,
    milestone: Milestone | None = None,
    changes: dict | None = None,
    dedupe_key: str | None = None,
) -> Event:
    """Append one event; must run inside the transaction of the change."""
    (event,) = events_record(
        [
            event_row(
                type=type,
                actor=actor,
                process=process,
                snapshot=snapshot,
                milestone=milestone,
                changes=changes,
                dedupe_key=dedupe_key,
            )
        ]
    )
    return event


def events_record(events: list[Event]) -> list[Event]:
    """Append ``events`` (built by ``event_row``) in one insert, inside the transaction of
    the change: a schedule change can put hundreds of milestones at risk at once."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_record must run inside the transaction of the change.")
    if len(events) == 1:
        events[0].save()
    else:
        Event.objects.bulk_create(events)
    for event in events:
        # Ring the alerts doorbell once the change is committed; if the broker is down the
        # alerts sweep finds the undispatched event instead (tracker.alerts.queue).
        transaction.on_commit(lambda pk=event.pk: event_dispatch_enqueue(pk))
    return events


def event_row(
    *,
    type: str,
    actor: Actor,
    process: Process,
    snapshot: dict,
    milestone: Milestone | None = None,
    changes: dict | None = None,
    dedupe_key: str | None = None,
) -> Event:
    """An unsaved event, for ``events_record`` to append with others."""
    return Event(
        type=type,
        occurred_at=timezone.now(),
        organization_id=process.organization_id,
        process=process,
        milestone_id=milestone.pk if milestone is not None else None,
        changes=changes or {},
        snapshot=snapshot,
        payload_version=PAYLOAD_VERSION,
        dedupe_key=dedupe_key,
        **actor_fields(actor),
    )
