import uuid

from django.conf import settings
from django.db import models


class EventType(models.TextChoices):
    MILESTONE_CREATED = "milestone.created", "Milestone created"
    MILESTONE_UPDATED = "milestone.updated", "Milestone updated"
    MILESTONE_STATUS_CHANGED = "milestone.status_changed", "Milestone status changed"
    MILESTONE_DATE_CHANGED = "milestone.date_changed", "Milestone date changed"
    MILESTONE_DEADLINE_APPROACHING = (
        "milestone.deadline_approaching",
        "Milestone deadline approaching",
    )
    MILESTONE_OVERDUE = "milestone.overdue", "Milestone overdue"
    MILESTONE_DELETED = "milestone.deleted", "Milestone deleted"
    MILESTONE_AT_RISK = "milestone.at_risk", "Milestone at risk"
    MILESTONE_BACK_ON_TRACK = "milestone.back_on_track", "Milestone back on track"
    PROCESS_CREATED = "process.created", "Process created"
    PROCESS_UPDATED = "process.updated", "Process updated"
    PROCESS_STATUS_CHANGED = "process.status_changed", "Process status changed"
    PROCESS_DELETED = "process.deleted", "Process deleted"
    ORGANIZATION_CREATED = "organization.created", "Organization created"
    ORGANIZATION_UPDATED = "organization.updated", "Organization updated"
    ORGANIZATION_DELETED = "organization.deleted", "Organization deleted"


class Event(models.Model):
    """One change to the record: the audit log, the outbox for alerts and the feed in one table.

    Rows are only ever appended (by ``tracker.services.events.event_record``); the columns
    that change afterwards are ``sequence``, stamped once after commit, and
    ``dispatched_at``, set when alerts have been fanned out.
    The references to the organization, process and milestone keep their ids after those
    rows are deleted (no database constraint), so the history outlives what it describes.
    """

    # The auto-increment id is taken at INSERT but seen at COMMIT, so ids become visible out
    # of order; the feed's cursor is ``sequence`` instead.
    id = models.BigAutoField(primary_key=True)
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40, choices=EventType.choices, db_index=True)
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Who did it when no user did: "scheduler", "importer:sec", or the user's name kept
    # for when the user row is gone.
    actor_name = models.CharField(max_length=150)
    organization = models.ForeignKey(
        "tracker.Organization",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="events",
    )
    process = models.ForeignKey(
        "tracker.Process",
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="events",
    )
    milestone = models.ForeignKey(
        "tracker.Milestone",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="events",
    )
    # {field: [old, new]} for updates; empty for creations, deletions and reminders.
    changes = models.JSONField(default=dict, blank=True)
    # The subject (milestone, process or organization) as it stood after the change; see
    # tracker.events.payload for the versioned shape.
    snapshot = models.JSONField(default=dict)
    payload_version = models.PositiveSmallIntegerField(default=1)
    # Makes a scheduled event fire once, e.g. "deadline:7d:<milestone>:<target date>".
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # The feed's position, in commit order: stamped after commit by
    # ``tracker.services.events.events_sequence_stamp`` (see there for why no event can
    # appear below a sequence already served). Null until then; the feed shows only
    # stamped events.
    sequence = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"],
                name="event_undispatched_idx",
                condition=models.Q(dispatched_at__isnull=True),
            ),
            models.Index(
                fields=["id"],
                name="event_unsequenced_idx",
                condition=models.Q(sequence__isnull=True),
            ),
            models.Index(fields=["milestone", "id"]),
            models.Index(fields=["process", "id"]),
            models.Index(fields=["organization", "id"]),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.type}"
