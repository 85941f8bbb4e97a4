"""Appending to the event log (only services call ``event_record``, inside their own
transaction), and stamping committed events with their place in the feed."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from tracker.alerts.queue import event_dispatch_enqueue
from tracker.models import Event, Milestone, Organization, Process
from tracker.snapshots import PAYLOAD_VERSION

# Who made a change: a user, or the name of a system source ("scheduler", "importer:sec").
Actor = AbstractBaseUser | str


def actor_display_name(user: AbstractBaseUser) -> str:
    """How events name an editor in public (API, Atom feed, webhooks, email): the full name,
    or "Editor #<id>"; never the username or the e-mail address, which are login secrets
    half-revealed (and often the address itself)."""
    full_name = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return full_name or f"Editor #{user.pk}"


def actor_fields(actor: Actor) -> dict:
    if isinstance(actor, str):
        if not actor:
            raise ValueError("A system actor needs a name.")
        return {"actor": None, "actor_name": actor}
    return {"actor": actor, "actor_name": actor_display_name(actor)}


def event_record(**fields: Any) -> Event:
    """Append one event, built by ``event_row`` from ``fields``; must run inside the
    transaction of the change. An organization's own events have no process: they name the
    ``organization`` instead."""
    (event,) = events_record([event_row(**fields)])
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
    process: Process | None,
    snapshot: dict,
    milestone: Milestone | None = None,
    organization: Organization | None = None,
    changes: dict | None = None,
    dedupe_key: str | None = None,
) -> Event:
    """An unsaved event, for ``events_record`` to append with others."""
    if process is None and organization is None:
        raise ValueError("An event concerns a process or an organization.")
    return Event(
        type=type,
        occurred_at=timezone.now(),
        organization_id=process.organization_id if process is not None else organization.pk,
        process=process,
        milestone_id=milestone.pk if milestone is not None else None,
        changes=changes or {},
        snapshot=snapshot,
        payload_version=PAYLOAD_VERSION,
        dedupe_key=dedupe_key,
        **actor_fields(actor),
    )


# The PostgreSQL advisory lock that makes stamping serial (any constant bigint will do, as
# long as nothing else uses it): the bytes of "evseq" read as a number.
_SEQUENCE_LOCK = int.from_bytes(b"evseq", "big")


def events_sequence_stamp() -> int:
    """Give every committed event without a feed ``sequence`` the next numbers, in id
    order; returns how many were stamped. The dispatcher runs it before fanning an event out
    and the sweep runs it for anything left behind, so every event is stamped soon after it
    commits.

    Why a poller can never miss an event: the feed serves only stamped events, by sequence.
    Stampers run one at a time (a transaction-scoped advisory lock on PostgreSQL; SQLite
    lets one writer in at a time) and each takes the lock before the statement that reads
    ``MAX(sequence)``, so under READ COMMITTED that statement sees every earlier stamper's
    work, committed before the lock was released. Sequences are therefore handed out in the
    order the stamping transactions commit, each above every sequence committed before it.
    A reader's snapshot sees a prefix of those commits, i.e. every sequence up to the
    highest it sees. A stamper sees only committed events, so an event whose transaction
    is still open (holding a lower id) is stamped later, above anything served by then.
    Hence once a poller has read sequence S, every event that will ever have a sequence
    below S was already visible to it.
    """
    table = connection.ops.quote_name(Event._meta.db_table)
    # One statement numbers the unstamped rows from MAX(sequence) + 1 (UPDATE ... FROM
    # needs SQLite 3.33 for the demo).
    sql = (
        f"UPDATE {table} SET sequence = numbered.base + numbered.position "
        "FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS position, "
        f"(SELECT COALESCE(MAX(sequence), 0) FROM {table}) AS base "
        f"FROM {table} WHERE sequence IS NULL) AS numbered "
        f"WHERE {table}.id = numbered.id"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SEQUENCE_LOCK])
        cursor.execute(sql)
        return cursor.rowcount
