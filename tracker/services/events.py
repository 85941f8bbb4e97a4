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
    """Append one event; must run inside the transaction that made the change."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_record must run inside the transaction of the change.")
    event = Event.objects.create(
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
    # Ring the alerts doorbell once the change is committed; if the broker is down the
    # alerts sweep finds the undispatched event instead (tracker.alerts.queue).
    transaction.on_commit(lambda: event_dispatch_enqueue(event.pk))
    return event
