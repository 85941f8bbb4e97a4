"""Bookkeeping of periodic work: runs and failures counted in the database (TaskRun), so
that health checks and metrics see the same figures from every process."""

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from tracker.models import TaskRun


def task_run_record(*, name: str, error: str = "") -> None:
    """Count one run of ``name`` (and one failure when ``error`` says why it failed)."""
    now = timezone.now()
    values = {"runs": F("runs") + 1, "last_run_at": now}
    if error:
        values |= {"failures": F("failures") + 1, "last_failure_at": now, "last_error": error}
    if TaskRun.objects.filter(name=name).update(**values):
        return
    try:
        with transaction.atomic():
            TaskRun.objects.create(name=name)
    except IntegrityError:
        pass  # another worker created it just now
    TaskRun.objects.filter(name=name).update(**values)
