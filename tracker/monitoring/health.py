"""Readiness: can this deployment do its work now?

Each check answers with its figures and whether they are within their threshold (a
setting); /readyz is 503 as soon as one is not. The database checks read only indexed
rows: the sweep's heartbeat (TaskRun), the oldest undispatched event (a partial index) and
the oldest overdue delivery (the status and next-attempt index).

django-health-check was considered and not used: its view answers 500 rather than 503,
its JSON carries a word per check rather than the figures (ages, last run) operators
alert on, and it runs synchronous checks on executor threads whose database connections
outlive the request. What is left of it for this page, a loop over checks, is a few lines.
"""

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone
from kombu import Connection

from tracker.selectors import operations


@dataclass
class CheckResult:
    ok: bool
    error: str = ""
    figures: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        document = {"ok": self.ok, **self.figures}
        if self.error:
            document["error"] = self.error
        return document


def _age(since: datetime.datetime | None, now: datetime.datetime) -> float | None:
    age = operations.age_seconds(since, now)
    return None if age is None else round(age, 3)


def check_database(now: datetime.datetime) -> CheckResult:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return CheckResult(ok=True)


def check_broker(now: datetime.datetime) -> CheckResult:
    timeout = settings.READYZ_BROKER_TIMEOUT
    with Connection(
        settings.CELERY_BROKER_URL,
        transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        connect_timeout=timeout,
    ) as broker:
        # One try, no back-off: a probe must answer within its own timeout.
        broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=timeout)
    return CheckResult(ok=True)


def check_beat(now: datetime.datetime) -> CheckResult:
    last_run_at = operations.beat_last_run_at()
    age = _age(last_run_at, now)
    limit = settings.READYZ_BEAT_MAX_AGE
    return CheckResult(
        ok=age is not None and age <= limit,
        error="" if last_run_at else "The periodic sweep has never run.",
        figures={
            "last_run_at": last_run_at.isoformat() if last_run_at else None,
            "age_seconds": age,
            "max_age_seconds": limit,
        },
    )


def check_undispatched_events(now: datetime.datetime) -> CheckResult:
    backlog = operations.event_backlog()
    age = _age(backlog.oldest_at, now)
    limit = settings.READYZ_UNDISPATCHED_EVENT_MAX_AGE
    return CheckResult(
        ok=age is None or age <= limit,
        figures={"count": backlog.count, "oldest_age_seconds": age, "max_age_seconds": limit},
    )


def check_overdue_deliveries(now: datetime.datetime) -> CheckResult:
    age = _age(operations.overdue_delivery_due_at(now=now), now)
    limit = settings.READYZ_OVERDUE_DELIVERY_MAX_AGE
    return CheckResult(
        ok=age is None or age <= limit,
        figures={"oldest_age_seconds": age, "max_age_seconds": limit},
    )


CHECKS: dict[str, Callable[[datetime.datetime], CheckResult]] = {
    "database": check_database,
    "broker": check_broker,
    "beat": check_beat,
    "undispatched_events": check_undispatched_events,
    "overdue_deliveries": check_overdue_deliveries,
}


def readiness() -> dict[str, CheckResult]:
    """Run every check; one that raises is failed with the error's class and message."""
    now = timezone.now()
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check(now)
        except DatabaseError as error:
            results[name] = CheckResult(ok=False, error=f"database: {type(error).__name__}")
        except Exception as error:  # a probe reports every failure, whatever its kind
            results[name] = CheckResult(ok=False, error=f"{type(error).__name__}: {error}")
    return results
