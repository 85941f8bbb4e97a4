"""EDGAR importer benchmarks against a local stand-in for EDGAR (bench/_edgar_standin.py),
with a Celery worker subprocess on Redis, as deployed.

``sync`` (b): 500 followed organizations, each with ~150 filings of which an IPO's 12, synced
twice through ``edgar_sync`` (one task per organization); before the second pass 5 % of the
companies file an 8-K, the rest are unchanged. Prints each pass's time, requests (and
304s), events written, and the most requests EDGAR saw in any one second, beside the
baseline: the least time the configured rate allows for those requests.

``latency`` (a): 10,000 followed organizations (already synced once: their sync state holds
the stand-in's ETag), the default intervals (feed every 60 s, full sync every 900 s) on a
worker with beat; every ``--every`` seconds a random one files an S-1, among 1 filing per
second of companies nobody follows. Prints the time from the filing's appearance in the feed
to its webhook's arrival at a local receiver (goal p50 < 60 s, p99 < 90 s), and the most
requests in any one second.

    .venv/bin/python bench/edgar_sync.py sync [--organizations 500 --filings 150]
    .venv/bin/python bench/edgar_sync.py latency [--organizations 10000 --every 5 --duration 300]
"""

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/edgar_bench?conn_max_age=60"
)
from _alerts import ENV, ROOT, ReceiverProcess, WorkerProcess, database_recreate  # noqa: E402

BASE_CIK = 1_000_000
USER_AGENT = "Milestone Tracker bench bench@example.com"


class StandInProcess:
    def __init__(self, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "bench/_edgar_standin.py", "--port", "0", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"

    def call(self, path: str, method: str = "GET"):
        request = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def _setup(stand_in: StandInProcess, rate: int) -> None:
    ENV.update(
        EDGAR_BASE_URL=stand_in.url,
        EDGAR_ARCHIVES_URL=stand_in.url,
        EDGAR_USER_AGENT=USER_AGENT,
        EDGAR_MAX_REQUESTS_PER_SECOND=str(rate),
    )
    database_recreate()
    from tracker.sources.edgar.ratelimit import rate_limiter

    rate_limiter().reset()


def _organizations(count: int) -> list:
    from tracker.models import Organization

    Organization.objects.bulk_create(
        Organization(
            name=f"Company {BASE_CIK + n}",
            slug=f"company-{BASE_CIK + n}",
            cik=f"{BASE_CIK + n:010d}",
            follow_edgar=True,
        )
        for n in range(count)
    )
    return list(Organization.objects.order_by("cik"))


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.2)


def bench_sync(args) -> None:
    stand_in = StandInProcess(
        "--organizations", str(args.organizations), "--filings", str(args.filings), "--ipo"
    )
    worker = None
    try:
        _setup(stand_in, args.rate)
        from django.db.models import Q

        from tracker import tasks
        from tracker.models import EdgarSync, Event, Milestone

        organizations = _organizations(args.organizations)
        worker = WorkerProcess(Path(tempfile.mkdtemp(prefix="edgar-")) / "worker.log")

        def one_pass(changed_ciks: set[int]) -> dict:
            before = stand_in.call("/_stats")
            events = Event.objects.count()
            started_at = time.time()
            started = time.perf_counter()
            tasks.edgar_sync.delay()
            _wait(
                lambda: (
                    stand_in.call("/_stats")["submissions"] - before["submissions"]
                    >= args.organizations
                ),
                900,
                "every company's submissions to be fetched",
            )
            changed = [o for o in organizations if int(o.cik) in changed_ciks]
            _wait(
                lambda: (
                    EdgarSync.objects.filter(organization__in=changed)
                    .filter(
                        Q(synced_at__gte=_aware(started_at)) | Q(failed_at__gte=_aware(started_at))
                    )
                    .count()
                    == len(changed)
                ),
                900,
                "every changed company to be synced",
            )
            seconds = time.perf_counter() - started
            after = stand_in.call("/_stats")
            # Alerts for what was imported go out on the same worker; the next pass starts
            # once they have, so that it is not timed behind them.
            _wait(
                lambda: not Event.objects.filter(dispatched_at__isnull=True).exists(),
                900,
                "every event to be dispatched",
            )
            return {
                "dispatched": time.perf_counter() - started,
                "seconds": seconds,
                "requests": after["requests"] - before["requests"],
                "304": after["304"] - before["304"],
                "events": Event.objects.count() - events,
                "max_in_any_second": after["max_in_any_second"],
            }

        first = one_pass({BASE_CIK + n for n in range(args.organizations)})
        failed = EdgarSync.objects.exclude(status="ok").count()
        milestones = Milestone.objects.count()
        rng = random.Random(9)
        changed = set(rng.sample(range(BASE_CIK, BASE_CIK + args.organizations),
                                 max(1, args.organizations // 20)))  # fmt: skip
        for cik in changed:
            stand_in.call(f"/_publish?cik={cik}&form=8-K", method="POST")
        second = one_pass(changed)
        window = 1.1  # tracker.sources.edgar.ratelimit.WINDOW
        print(f"organizations: {args.organizations}, filings each: {args.filings}, "
              f"limit: {args.rate}/s; worker --pool threads -c 4")  # fmt: skip
        for name, result in (("first pass", first), ("second pass", second)):
            # A sliding window lets the first `rate` requests go at once, then `rate` a window.
            floor = (math.ceil(result["requests"] / args.rate) - 1) * window
            print(
                f"{name}: {result['seconds']:.1f} s, {result['requests']} requests "
                f"({result['304']} answered 304), {result['events']} events (all dispatched "
                f"after {result['dispatched']:.1f} s); "
                f"least time the limiter allows: {floor:.1f} s"
            )
        print(f"after the first pass: {milestones} milestones, {failed} syncs not ok")
        print(
            f"most requests EDGAR saw in any one second: {second['max_in_any_second']} "
            f"(limit {args.rate})"
        )
    finally:
        if worker:
            worker.stop()
        stand_in.stop()


def bench_latency(args) -> None:
    stand_in = StandInProcess(
        "--organizations", str(args.organizations), "--filings", "3", "--noise-per-second", "1"
    )
    receiver = ReceiverProcess()
    worker = None
    try:
        _setup(stand_in, args.rate)
        from django.contrib.auth import get_user_model

        from tracker.models import EdgarSync, Filing
        from tracker.models.alerts import Delivery
        from tracker.services.alerts import endpoint_create, subscription_create

        organizations = _organizations(args.organizations)
        # As if each had been synced once: the next unchanged sync costs one 304.
        EdgarSync.objects.bulk_create(
            EdgarSync(organization=o, status="ok", etag=f'"{int(o.cik)}-3"') for o in organizations
        )
        owner = get_user_model().objects.create_user("bench", "bench@example.com")
        endpoint = endpoint_create(owner=owner, data={"url": receiver.url("/hook")})
        subscription_create(
            owner=owner,
            data={"channel": "webhook", "endpoint": endpoint,
                  "event_types": ["milestone.created"], "milestone_kinds": ["filing"]},
        )  # fmt: skip
        worker = WorkerProcess(Path(tempfile.mkdtemp(prefix="edgar-")) / "worker.log", beat=True)
        rng = random.Random(11)
        published = {}
        started = time.monotonic()
        while time.monotonic() - started < args.duration:
            cik = BASE_CIK + rng.randrange(args.organizations)
            item = stand_in.call(f"/_publish?cik={cik}&form=S-1", method="POST")
            published[item["accession"]] = item["at"]
            time.sleep(args.every)

        def arrivals() -> dict[str, float]:
            log = {entry["id"]: entry["at"] for entry in receiver.log()}
            found = {}
            for message_id, milestone_id in Delivery.objects.filter(
                message_id__in=list(log)
            ).values_list("message_id", "event__milestone_id"):
                accession = (
                    Filing.objects.filter(pk=milestone_id)
                    .values_list("accession_number", flat=True)
                    .first()
                )
                if accession:
                    found[accession] = log[message_id]
            return found

        _wait(lambda: len(arrivals()) >= len(published), 180, "every webhook")
        found = arrivals()
        latencies = sorted(found[a] - at for a, at in published.items())
        stats = stand_in.call("/_stats")
        p = statistics.quantiles(latencies, n=100, method="inclusive")
        print(f"organizations: {args.organizations}; {len(published)} S-1 filings, one every "
              f"{args.every:g} s, for {args.duration:g} s; limit {args.rate}/s; default "
              f"intervals (feed 60 s, full sync 900 s); worker -B --pool threads -c 4")  # fmt: skip
        print(f"feed to webhook: p50 {p[49]:.1f} s, p99 {p[98]:.1f} s, min {latencies[0]:.1f} s, "
              f"max {latencies[-1]:.1f} s (goal p50 < 60 s, p99 < 90 s)")  # fmt: skip
        print(f"requests to EDGAR: {stats['requests']} ({stats['feed']} feed pages, "
              f"{stats['submissions']} submissions, {stats['304']} answered 304); most in any "
              f"one second: {stats['max_in_any_second']} (limit {args.rate})")  # fmt: skip
    finally:
        if worker:
            worker.stop()
        receiver.stop()
        stand_in.stop()


def _aware(timestamp: float):
    import datetime

    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["sync", "latency"])
    parser.add_argument("--organizations", type=int)
    parser.add_argument("--filings", type=int, default=150)
    parser.add_argument("--rate", type=int, default=10, help="EDGAR_MAX_REQUESTS_PER_SECOND")
    parser.add_argument("--every", type=float, default=5.0, help="latency: seconds per filing")
    parser.add_argument("--duration", type=float, default=300.0, help="latency: seconds")
    args = parser.parse_args()
    if args.scenario == "sync":
        args.organizations = args.organizations or 500
        bench_sync(args)
    else:
        args.organizations = args.organizations or 10_000
        bench_latency(args)


if __name__ == "__main__":
    main()
