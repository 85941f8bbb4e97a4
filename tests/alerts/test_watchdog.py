"""A worker that consumes nothing while work is due exits for its supervisor to restart it,
and alerts resume on their own after the broker is killed and restarted several times.

The stuck consumer of celery issues 8030/8091/9054/10205/10302 cannot be triggered at will,
so one test stops a live worker's consumers over remote control (it then takes nothing,
exactly as a stuck one does) and checks that it exits; the other restarts a real Redis of
its own several times within seconds and checks that alerts come through afterwards, with
the worker kept running by a supervisor loop like `run_all` or systemd.
"""

import datetime
import subprocess
import sys
import threading
import time

import pytest
from django.utils import timezone

from config.celery_app import app
from tests.factories import MilestoneFactory
from tests.redis_server import Redis, wait_until
from tracker.alerts import watchdog
from tracker.management.commands.run_all import supervise
from tracker.models import Event
from tracker.models.alerts import Delivery, DeliveryStatus
from tracker.services.alerts import endpoint_create, subscription_create
from tracker.services.milestones import milestone_update

from .conftest import ROOT, Worker

pytestmark = pytest.mark.e2e


@pytest.fixture
def own_redis():
    server = Redis().start()
    yield server
    server.kill()


def test_overdue_work_names_the_oldest_due_work_of_the_kinds_asked(db):
    milestone = MilestoneFactory()
    milestone_update(actor="tests", milestone=milestone, data={"status": "in_progress"})
    event = Event.objects.get(type="milestone.status_changed")
    later = timezone.now() + datetime.timedelta(minutes=1)

    assert f"event #{event.pk} undispatched" in watchdog.overdue_work(
        kinds={"dispatch"}, due_before=later
    )
    assert watchdog.overdue_work(kinds={"send"}, due_before=later) is None
    assert watchdog.overdue_work(kinds={"dispatch"}, due_before=event.occurred_at) is None
    Event.objects.update(dispatched_at=timezone.now())
    assert watchdog.overdue_work(kinds={"dispatch", "send"}, due_before=later) is None


def test_a_worker_that_consumes_nothing_while_an_event_waits_exits_with_status_70(
    worker, worker_env, owner
):
    worker.env = {**worker_env, "ALERTS_WATCHDOG_STALL_SECONDS": "2"}
    worker.start()
    # As a worker stuck on a dead connection: up, but taking no message from any queue.
    for queue in ("dispatch", "send", "periodic", "sources"):
        app.control.cancel_consumer(queue, reply=True, timeout=5)
    milestone = MilestoneFactory()
    milestone_update(actor=owner, milestone=milestone, data={"status": "in_progress"})

    status = worker.process.wait(30)

    assert status == watchdog.EXIT_STATUS
    log = worker.output()
    assert "Worker stalled: it has consumed nothing for" in log
    assert "undispatched since" in log


def test_a_worker_that_keeps_consuming_is_left_running(worker, worker_env, owner, receiver):
    endpoint = endpoint_create(owner=owner, data={"url": receiver.url("/hook")})
    subscription_create(owner=owner, data={"channel": "webhook", "endpoint": endpoint})
    worker.env = {**worker_env, "ALERTS_WATCHDOG_STALL_SECONDS": "1"}
    worker.start()
    milestone = MilestoneFactory()

    for status in ("in_progress", "delayed", "in_progress", "delayed"):
        milestone_update(actor=owner, milestone=milestone, data={"status": status})
        time.sleep(1)

    receiver.wait_for(4)
    assert worker.process.poll() is None, worker.output()


def _supervised(worker: Worker, stop: threading.Event) -> None:
    # What systemd's Restart=always or `run_all` do for a worker that exits.
    while not stop.wait(0.2):
        if worker.process.poll() is not None:
            worker.start()


def test_alerts_resume_after_the_broker_is_killed_and_restarted_several_times(
    worker, worker_env, own_redis, owner, receiver
):
    endpoint = endpoint_create(owner=owner, data={"url": receiver.url("/hook")})
    subscription_create(owner=owner, data={"channel": "webhook", "endpoint": endpoint})
    milestone = MilestoneFactory()
    env = {
        **worker_env,
        "REDIS_URL": own_redis.url,
        "CELERY_BROKER_URL": own_redis.url,
        "ALERTS_WATCHDOG_STALL_SECONDS": "5",
    }
    worker.env = env
    worker.start()
    stop = threading.Event()
    supervisor = threading.Thread(target=_supervised, args=(worker, stop), daemon=True)
    supervisor.start()

    def change(status: str) -> None:
        # As the web tier would: another process, ringing the doorbell on the same broker.
        script = (
            "from tracker.models import Milestone; "
            "from tracker.services.milestones import milestone_update; "
            f"m = Milestone.objects.get(pk={milestone.pk}); "
            f"milestone_update(actor='importer:test', milestone=m, data={{'status': '{status}'}})"
        )
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr

    try:
        change("in_progress")
        receiver.wait_for(1, timeout=30)

        for _ in range(4):
            own_redis.kill()
            time.sleep(0.5)
            own_redis.start()
            time.sleep(1)
        for status in ("delayed", "in_progress", "delayed"):
            change(status)

        # Bounded: the sweep re-queues within its grace, the watchdog restarts a stuck
        # worker within a few stall periods.
        receiver.wait_for(4, timeout=90)
        wait_until(
            lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 4,
            20,
            "all four deliveries recorded as succeeded",
        )
        ids = [request.webhook_id for request in receiver.requests]
        assert len(set(ids)) == 4
    finally:
        stop.set()
        supervisor.join(10)


def test_run_all_starts_a_worker_that_exits_again(tmp_path):
    starts = tmp_path / "starts"
    worker = f"open({str(starts)!r}, 'a').write('x'); raise SystemExit(70)"
    lines = []

    supervise(
        {
            "web": [sys.executable, "-c", "import time; time.sleep(4)"],
            "worker": [sys.executable, "-c", worker],
        },
        restart={"worker"},
        log=lines.append,
    )

    assert len(starts.read_text()) >= 2
    assert "The worker exited with status 70; starting it again." in lines
    assert lines[-1] == "web stopped; stopping the rest."
