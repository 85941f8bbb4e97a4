"""Schedule propagation: moving the first milestone of a 500-milestone chain.

Two chains, each milestone depending on the one before with a 2-day gap:

- "forecasts only": only the first milestone has a target date, so a move of it shifts all
  500 forecasts and nothing else (no milestone has a target to be late for);
- "at risk": every milestone is due exactly when its dependency allows, so a move of the
  first one shifts every forecast and puts all 499 after it at risk (499
  ``milestone.at_risk`` events); moving it back brings them all back on track (499
  ``milestone.back_on_track`` events): the worst case.

Moves are timed from the service call to COMMIT (the recursive query, the rewrite and the
events), and again including the after-commit doorbells (one Celery message per event).
Queries are counted in a separate pass, for a 500- and a 50-milestone chain: the count must
not grow with the length.

Baseline, in the same run: walking the same chain the way a naive implementation would, one
query per milestone for its dependents (reads only, nothing computed or written).

Goal: under 200 ms on PostgreSQL for the whole propagation.

    .venv/bin/python bench/schedule.py [--length 500] [--rounds 10]

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/schedule_bench;
dropped and created again), REDIS_URL (default redis://127.0.0.1:6379/1).
"""

import argparse
import datetime
import os
import statistics
import time

os.environ.setdefault(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/schedule_bench?conn_max_age=60"
)

from _alerts import database_recreate  # noqa: E402

START = datetime.date(2027, 1, 4)
GAP = 2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--length", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    database_recreate()
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from tracker.models import Event, EventType

    chain = _chain(args.length)
    short = _chain(50)
    first = chain[0]
    bare = _chain(args.length, targets=False)

    def move(milestone, target) -> tuple[float, float]:
        committed = []
        started = time.perf_counter()
        with transaction.atomic():
            transaction.on_commit(lambda: committed.append(time.perf_counter()))
            _update(milestone, target)
        finished = time.perf_counter()
        return (committed[0] - started) * 1000, (finished - started) * 1000

    slips, recoveries, shifts = [], [], []
    for _ in range(args.rounds):
        shifts.append(move(bare[0], START + datetime.timedelta(days=10)))
        shifts.append(move(bare[0], START))
        slips.append(move(first, START + datetime.timedelta(days=10)))
        recoveries.append(move(first, START))
    at_risk = Event.objects.filter(type=EventType.MILESTONE_AT_RISK).count()
    assert at_risk == args.rounds * (args.length - 1), at_risk

    with CaptureQueriesContext(connection) as long_queries:
        _update(first, START + datetime.timedelta(days=10))
    _update(first, START)
    with CaptureQueriesContext(connection) as short_queries:
        _update(short[0], START + datetime.timedelta(days=10))

    baseline = []
    for _ in range(args.rounds):
        started = time.perf_counter()
        _walk_one_query_per_milestone(first.pk)
        baseline.append((time.perf_counter() - started) * 1000)

    def line(label: str, runs: list[tuple[float, float]]) -> None:
        to_commit = [r[0] for r in runs]
        total = [r[1] for r in runs]
        print(
            f"{label:<34} to commit: median {statistics.median(to_commit):6.1f} ms, "
            f"max {max(to_commit):6.1f} ms; with doorbells: median "
            f"{statistics.median(total):6.1f} ms"
        )

    print(f"chain of {args.length}, {args.rounds} rounds, database: {connection.vendor}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2 cores)")
    line(f"forecasts only ({args.length} moved)", shifts)
    line(f"slip ({args.length - 1} put at risk)", slips)
    line(f"recovery ({args.length - 1} back on track)", recoveries)
    print(
        f"queries per move: {len(long_queries)} for {args.length} milestones, "
        f"{len(short_queries)} for 50"
    )
    print(
        f"baseline, one query per milestone (reads only): median "
        f"{statistics.median(baseline):6.1f} ms, {args.length} queries"
    )
    print("goal: under 200 ms to commit")


def _chain(length: int, *, targets: bool = True):
    """``length`` milestones in one process, each depending on the one before with a
    GAP-day minimum gap and due GAP days after it (or, without ``targets``, only the first
    one dated); forecasts computed once."""
    from django.db import transaction

    from tests.factories import MilestoneFactory, ProcessFactory
    from tracker.models import MilestoneDependency
    from tracker.services.schedule import schedule_propagate

    process = ProcessFactory()
    chain = [
        MilestoneFactory.build(
            process=process,
            title=f"Step {n}",
            position=n,
            target_date=START + datetime.timedelta(days=GAP * n) if targets or not n else None,
        )
        for n in range(length)
    ]
    from tracker.models import Milestone

    chain = Milestone.objects.bulk_create(chain)
    MilestoneDependency.objects.bulk_create(
        MilestoneDependency(milestone=after, depends_on=before, min_gap_days=GAP)
        for before, after in zip(chain, chain[1:], strict=False)
    )
    with transaction.atomic():
        schedule_propagate(actor="bench", milestone_ids=[chain[0].pk])
    return chain


def _update(milestone, target) -> None:
    from tracker.services.milestones import milestone_update

    milestone_update(actor="bench", milestone=milestone, data={"target_date": target})


def _walk_one_query_per_milestone(start: int) -> list[int]:
    from tracker.models import MilestoneDependency

    seen, frontier = [], [start]
    while frontier:
        pk = frontier.pop()
        seen.append(pk)
        frontier.extend(
            MilestoneDependency.objects.filter(depends_on_id=pk).values_list(
                "milestone_id", flat=True
            )
        )
    return seen


if __name__ == "__main__":
    main()
