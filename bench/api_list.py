"""Benchmark: list 100 milestones per page out of 10,000 through the API, under gunicorn,
beside a bare DRF ModelSerializer list of the same rows, in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_api \\
        .venv/bin/python bench/api_list.py [--rows 10000] [--seconds 8] [--rounds 2]

It (re)creates the rows when the database does not hold exactly ``--rows`` milestones, starts
gunicorn on 127.0.0.1 with this module as the URL configuration (the real /api/v1/ plus
/bare/milestones/), loads both lists in turns from a few client threads, and prints
requests per second, the ratio, and the queries each page costs (counted in process).
Only loopback traffic; every loop is bounded by time.
"""

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_api")
# The benchmark measures listing, not throttling.
os.environ.setdefault("API_THROTTLE_ANON_RATE", "100000000/minute")

import django  # noqa: E402

django.setup()

from django.urls import include, path  # noqa: E402
from rest_framework import generics, permissions, serializers  # noqa: E402
from rest_framework.pagination import PageNumberPagination  # noqa: E402

from tracker.models import Milestone  # noqa: E402

PAGE_SIZE = 100


class BareMilestoneSerializer(serializers.ModelSerializer):
    """What a first cut would write: the model's own columns, nothing joined."""

    class Meta:
        model = Milestone
        exclude = ["depends_on"]


class BarePagination(PageNumberPagination):
    page_size = PAGE_SIZE


class BareMilestoneList(generics.ListAPIView):
    queryset = Milestone.objects.order_by("process_id", "position", "target_date", "id")
    serializer_class = BareMilestoneSerializer
    pagination_class = BarePagination
    permission_classes = [permissions.AllowAny]
    authentication_classes = []
    throttle_classes = []
    filter_backends = []


urlpatterns = [
    path("api/v1/", include("tracker.api.urls")),
    path("bare/milestones/", BareMilestoneList.as_view()),
]


def wsgi():
    """gunicorn entry point: the project's WSGI application with this module's URLs."""
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    settings.ROOT_URLCONF = __name__
    return get_wsgi_application()


# --- Data --------------------------------------------------------------------------------


def ensure_rows(count: int) -> None:
    """Exactly ``count`` milestones of the four kinds, each depending on the one before.

    Rows are bulk-inserted (the services would take minutes and write 10,000 events that
    this benchmark does not read); the shapes are the ones the services produce.
    """
    import datetime

    from django.core.management import call_command
    from django.db import transaction

    from tracker.models import MilestoneDependency, MilestoneKind, Organization, Process

    call_command("migrate", verbosity=0)
    if Milestone.objects.count() == count:
        return
    print(f"creating {count} milestones ...", flush=True)
    with transaction.atomic():
        Milestone.objects.all().delete()
        Process.objects.all().delete()
        Organization.objects.all().delete()
        organizations = Organization.objects.bulk_create(
            Organization(name=f"Organization {i}", slug=f"org-{i}") for i in range(10)
        )
        processes = Process.objects.bulk_create(
            Process(
                organization=organizations[i % 10], kind="ipo", title=f"Process {i}", slug=f"p-{i}"
            )
            for i in range(100)
        )
        kinds = [
            MilestoneKind.GENERIC,
            MilestoneKind.FILING,
            MilestoneKind.AG_REVIEW,
            MilestoneKind.IPO_STEP,
        ]
        start = datetime.date(2026, 1, 1)
        milestones = Milestone.objects.bulk_create(
            Milestone(
                process=processes[i % 100],
                kind=kinds[i % 4],
                title=f"Milestone {i}",
                target_date=start + datetime.timedelta(days=i % 700),
                position=i // 100,
                notes="Lorem ipsum dolor sit amet, " * 4,
                source_url="https://example.com/source",
            )
            for i in range(count)
        )
        for index, parent in enumerate(milestones):
            child = _typed_child(parent, index)
            if child is not None:
                # raw: write only the child table; the parent row is already there.
                child.save_base(raw=True)
        MilestoneDependency.objects.bulk_create(
            MilestoneDependency(milestone=later, depends_on=earlier)
            for earlier, later in zip(milestones, milestones[1:], strict=False)
            if earlier.process_id == later.process_id
        )


def _typed_child(parent: Milestone, index: int):
    from tracker.models import AgReview, Filing, IpoStep, MilestoneKind

    if parent.kind == MilestoneKind.FILING:
        return Filing(
            milestone_ptr=parent, form_type="S-1", accession_number=f"0001234567-25-{index:06d}"
        )
    if parent.kind == MilestoneKind.AG_REVIEW:
        return AgReview(milestone_ptr=parent, authority="de_ag")
    if parent.kind == MilestoneKind.IPO_STEP:
        return IpoStep(milestone_ptr=parent, step="priced", offer_price="21.50")
    return None


# --- Measuring ---------------------------------------------------------------------------


def queries_per_page(url: str) -> int:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    with override_settings(ROOT_URLCONF=__name__), CaptureQueriesContext(connection) as captured:
        response = Client().get(url)
    assert response.status_code == 200, response.content[:300]
    return len(captured)


def load(base: str, path: str, seconds: float, threads: int, pages: int) -> float:
    """Requests per second over ``seconds`` from ``threads`` clients asking random pages."""
    deadline = time.monotonic() + seconds
    counts = [0] * threads
    errors: list[str] = []

    def client(slot: int) -> None:
        rng = random.Random(slot)
        while time.monotonic() < deadline:
            url = f"{base}{path}?page={rng.randint(1, pages)}&page_size={PAGE_SIZE}"
            if path.startswith("/bare/"):
                url = f"{base}{path}?page={rng.randint(1, pages)}"
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    body = response.read()
                # Parsing every body would load the client (on the same two cores) in
                # proportion to the response size; the first page of each client is checked.
                if counts[slot] == 0 and len(json.loads(body)["results"]) != PAGE_SIZE:
                    errors.append(f"short page from {url}")
                counts[slot] += 1
            except Exception as error:  # a failed request must be reported, not hidden
                errors.append(f"{url}: {error}")
                return

    started = time.monotonic()
    workers = [threading.Thread(target=client, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    if errors:
        raise SystemExit(f"requests failed: {errors[:3]}")
    return sum(counts) / elapsed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(base: str, server: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            urllib.request.urlopen(f"{base}/bare/milestones/", timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    args = parser.parse_args()

    ensure_rows(args.rows)
    pages = args.rows // PAGE_SIZE
    api, bare = "/api/v1/milestones/", "/bare/milestones/"

    print("queries per page (page_size 10 / 100, first page / middle page):")
    for label, url in (("api", api), ("bare", bare)):
        sizes = (10, 100) if label == "api" else (PAGE_SIZE,)
        counts = [
            queries_per_page(
                f"{url}?page={page}" + (f"&page_size={size}" if label == "api" else "")
            )
            for size in sizes
            for page in (1, pages // 2)
        ]
        print(f"  {label:5} {counts}")

    port = args.port or _free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--pythonpath",
            f"{ROOT},{ROOT / 'bench'}",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "api_list:wsgi()",
        ],
        env=os.environ.copy(),
    )
    try:
        wait_until_up(base, server)
        for path in (api, bare):  # warm both workers' caches and connections
            load(base, path, 1.0, args.threads, pages)
        results: dict[str, list[float]] = {api: [], bare: []}
        for _ in range(args.rounds):
            for path in (api, bare):
                results[path].append(load(base, path, args.seconds, args.threads, pages))
    finally:
        server.terminate()
        server.wait(timeout=30)

    api_rps, bare_rps = (statistics.median(results[p]) for p in (api, bare))
    print(f"requests/s, {PAGE_SIZE} rows per page of {args.rows} (median of {args.rounds}):")
    print(f"  api  {api_rps:8.1f}   {[round(r, 1) for r in results[api]]}")
    print(f"  bare {bare_rps:8.1f}   {[round(r, 1) for r in results[bare]]}")
    print(f"  ratio api/bare: {api_rps / bare_rps:.2f} (target >= 0.70)")


if __name__ == "__main__":
    main()
