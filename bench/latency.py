"""Latency: 200 changes one after another, each timed from its commit to its receipt.

One webhook subscriber on the local receiver (in its own process), an idle Celery worker on
Redis. The commit time is taken by an on-commit callback registered before the change's
own (so it runs first, right after COMMIT); the receipt time is the receiver's clock on
arrival. Targets: p50 < 50 ms, p99 < 250 ms.

    .venv/bin/python bench/latency.py [--changes 200] [--pause 0.1]
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from _alerts import ReceiverProcess, WorkerProcess, database_recreate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--pause", type=float, default=0.1, help="seconds between changes")
    args = parser.parse_args()

    database_recreate()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from tests.factories import MilestoneFactory
    from tracker.models import Event
    from tracker.models.alerts import Delivery
    from tracker.services.alerts import endpoint_create, subscription_create
    from tracker.services.milestones import milestone_update

    receiver = ReceiverProcess()
    workdir = Path(tempfile.mkdtemp(prefix="latency-"))
    worker = None
    try:
        owner = get_user_model().objects.create_user("bench", "bench@example.com")
        endpoint = endpoint_create(owner=owner, data={"url": receiver.url("/hook")})
        subscription_create(owner=owner, data={"channel": "webhook", "endpoint": endpoint})
        milestone = MilestoneFactory(title="Roadshow launched")
        worker = WorkerProcess(workdir / "worker.log")

        def change(n: int) -> tuple[int, float]:
            committed = {}
            with transaction.atomic():
                transaction.on_commit(lambda: committed.setdefault("at", time.time()))
                milestone_update(actor="bench", milestone=milestone, data={"notes": f"#{n}"})
            event = Event.objects.filter(milestone_id=milestone.pk).latest("id")
            return event.pk, committed["at"]

        # A few unmeasured changes first: the worker's first task imports and connects.
        warm_up = 5
        for n in range(warm_up):
            change(-n - 1)
            time.sleep(args.pause)
        commits = {}
        for n in range(args.changes):
            event_id, at = change(n)
            commits[event_id] = at
            time.sleep(args.pause)

        deadline = time.monotonic() + 60
        expected = warm_up + args.changes
        while receiver.stats()["requests"] < expected and time.monotonic() < deadline:
            time.sleep(0.1)
        arrivals = {entry["id"]: entry["at"] for entry in receiver.log()}
        event_of = dict(
            Delivery.objects.filter(event_id__in=commits).values_list("message_id", "event_id")
        )
        latencies = sorted(
            (arrivals[message_id] - commits[event_id]) * 1000
            for message_id, event_id in event_of.items()
            if message_id in arrivals
        )
        if len(latencies) < args.changes:
            raise SystemExit(f"only {len(latencies)} of {args.changes} changes arrived")
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, round(0.99 * len(latencies)) - 1)]
        print(f"changes: {len(latencies)} (after {warm_up} unmeasured), {args.pause:g} s apart")
        print(
            f"commit -> receipt: p50 {p50:.1f} ms (target < 50), p99 {p99:.1f} ms "
            f"(target < 250), min {latencies[0]:.1f} ms, max {latencies[-1]:.1f} ms"
        )
    finally:
        if worker:
            worker.stop()
        receiver.stop()


if __name__ == "__main__":
    main()
