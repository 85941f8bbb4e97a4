"""Reminders: "deadline approaching" and "overdue" events written by the scheduler.

Each fires once per milestone and target date: the event's unique ``dedupe_key`` names
both, so a second scan finds the key taken, and moving the target date makes a new key
(the reminders re-arm).
"""

import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from tracker.models import Event, EventType, Milestone, MilestoneDependency, ProcessStatus
from tracker.models.milestones import CLOSED_STATUSES
from tracker.services.events import event_record
from tracker.services.schedule import SCHEDULER, milestones_at_risk_mark
from tracker.snapshots import milestone_snapshot, subject_snapshot


def reminders_scan(*, today: datetime.date | None = None) -> list[int]:
    """Record the reminders that are due today; returns the new events' ids.

    For a milestone ``n`` days from its target date, the smallest configured lead time of
    at least ``n`` days fires (so a milestone created three days ahead still gets its
    "7 days" reminder, once, and then its "1 day" one). Past the target date without
    completion, ``milestone.overdue`` fires once. Only active processes remind: the open
    steps of an abandoned IPO (withdrawn on EDGAR, say) or a completed process are moot.

    It also puts at risk (``milestone.at_risk``, once) the open milestones of active
    processes that are late but not flagged: their target date has passed since the record
    last changed (time moves without any change to recompute them), or their forecast was
    already late before the schedule existed.
    """
    today = today or timezone.localdate()
    milestones_at_risk_mark(today=today)
    lead_days = sorted(set(settings.ALERTS_REMINDER_DAYS))
    horizon = today + datetime.timedelta(days=max(lead_days, default=0))
    milestones = (
        Milestone.objects.exclude(status__in=CLOSED_STATUSES)
        .filter(
            process__status=ProcessStatus.ACTIVE,
            target_date__isnull=False,
            target_date__lte=horizon,
        )
        .select_related("process__organization")
        .order_by("target_date", "id")
    )
    created = []
    for milestone in milestones:
        left = (milestone.target_date - today).days
        if left < 0:
            event_type = EventType.MILESTONE_OVERDUE
            key = f"overdue:{milestone.pk}:{milestone.target_date.isoformat()}"
        else:
            lead = next((d for d in lead_days if d >= left), None)
            if lead is None:
                continue
            event_type = EventType.MILESTONE_DEADLINE_APPROACHING
            key = f"deadline:{lead}d:{milestone.pk}:{milestone.target_date.isoformat()}"
        event = reminder_record(milestone=milestone, type=event_type, dedupe_key=key)
        if event is not None:
            created.append(event.pk)
    return created


def reminder_record(*, milestone: Milestone, type: str, dedupe_key: str) -> Event | None:
    """Append one reminder event as the scheduler, unless its key was used; None then."""
    if Event.objects.filter(dedupe_key=dedupe_key).exists():
        return None
    typed = milestone.typed()
    depends_on = list(
        MilestoneDependency.objects.filter(milestone=milestone).values_list(
            "depends_on_id", flat=True
        )
    )
    try:
        with transaction.atomic():
            return event_record(
                type=type,
                actor=SCHEDULER,
                process=milestone.process,
                milestone=milestone,
                snapshot=subject_snapshot(milestone.process, milestone_snapshot(typed, depends_on)),
                dedupe_key=dedupe_key,
            )
    except IntegrityError:
        return None  # another scan recorded it a moment ago
