"""Fan-out: one change to N webhook endpoints (default 1,000) on a local receiver.

Prints deliveries per second from commit until every delivery is recorded as succeeded,
the same figure for a plain sequential requests.Session POST loop to the same receiver
(measured in the same run), their ratio (target >= 1.0) and the worker's peak memory
(target < 300 MB).

    .venv/bin/python bench/fanout.py [--endpoints 1000]
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

from _alerts import ReceiverProcess, WorkerProcess, database_recreate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=1000)
    args = parser.parse_args()
    count = args.endpoints

    database_recreate()
    import requests
    from django.contrib.auth import get_user_model
    from django.db.models import Max

    from tests.factories import MilestoneFactory
    from tracker.models import Event
    from tracker.models.alerts import Delivery, DeliveryStatus
    from tracker.services.alerts import endpoint_create, subscription_create
    from tracker.services.milestones import milestone_update

    receiver = ReceiverProcess()
    workdir = Path(tempfile.mkdtemp(prefix="fanout-"))
    worker = None
    try:
        owner = get_user_model().objects.create_user("bench", "bench@example.com")
        for n in range(count):
            endpoint = endpoint_create(owner=owner, data={"url": receiver.url(f"/e{n}")})
            subscription_create(owner=owner, data={"channel": "webhook", "endpoint": endpoint})
        milestone = MilestoneFactory(title="Registration statement effective")

        # Baseline: the same number of POSTs, one after another, on one keep-alive session,
        # with a body of the size the pipeline sends. Measured before and after the pipeline
        # (the machine is shared); the faster of the two is the one compared against.
        body = json.dumps({"type": "milestone.status_changed", "data": "x" * 1400})
        session = requests.Session()

        def baseline() -> float:
            started = time.perf_counter()
            for n in range(count):
                response = session.post(
                    receiver.url(f"/e{n}"),
                    data=body,
                    headers={"content-type": "application/json"},
                )
                response.raise_for_status()
            return time.perf_counter() - started

        baseline_runs = [baseline()]
        already = receiver.stats()["requests"]

        worker = WorkerProcess(workdir / "worker.log")

        def fan_out(data: dict) -> tuple[int, float]:
            before = Event.objects.aggregate(Max("id"))["id__max"] or 0
            started = time.perf_counter()
            milestone_update(actor="bench", milestone=milestone, data=data)
            event = Event.objects.get(id__gt=before)
            deadline = time.monotonic() + 300
            while True:
                done = Delivery.objects.filter(event=event, status=DeliveryStatus.SUCCEEDED).count()
                if done >= count or time.monotonic() > deadline:
                    return done, time.perf_counter() - started
                time.sleep(0.02)

        # The first fan-out of a fresh worker also opens its sending threads' database
        # connections; the second shows the steady state. Both are reported.
        cold_done, cold_seconds = fan_out({"status": "in_progress"})
        cpu_before = worker.cpu_seconds()
        done, seconds = fan_out({"status": "delayed"})
        worker_cpu = worker.cpu_seconds() - cpu_before
        received = receiver.stats()["requests"] - already
        rate = done / seconds
        memory = worker.peak_memory_mb()
        baseline_runs.append(baseline())
        baseline_seconds = min(baseline_runs)
        baseline_rate = count / baseline_seconds
        print(f"endpoints: {count}")
        print(
            "baseline (sequential requests.Session POST loop): "
            + ", ".join(f"{t:.2f} s" for t in baseline_runs)
            + f"; best {baseline_rate:.0f} POST/s"
        )
        print(
            f"pipeline, fresh worker (commit -> all {cold_done} recorded succeeded): "
            f"{cold_seconds:.2f} s, {cold_done / cold_seconds:.0f} deliveries/s"
        )
        print(
            f"pipeline, second change (commit -> all {done} recorded succeeded): "
            f"{seconds:.2f} s, {rate:.0f} deliveries/s; receiver saw {received} in all"
        )
        print(f"worker CPU for the second change: {worker_cpu:.2f} s")
        print(f"ratio pipeline / baseline: {rate / baseline_rate:.2f} (target >= 1.0)")
        print(f"worker peak memory (VmHWM): {memory:.0f} MB (target < 300 MB)")
        if min(done, cold_done) < count:
            raise SystemExit(f"only {min(done, cold_done)} of {count} deliveries succeeded")
    finally:
        if worker:
            worker.stop()
        receiver.stop()


if __name__ == "__main__":
    main()
