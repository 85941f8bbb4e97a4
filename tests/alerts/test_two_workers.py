"""Two Celery worker processes (each with its beat running the sweep) claiming from one
database: every delivery is sent once per ``webhook-id``, none is lost, and an endpoint
never has more than ALERTS_ENDPOINT_CONCURRENCY requests in flight across both."""

import time

import pytest

from tests.factories import MilestoneFactory
from tracker.alerts.services import endpoint_create, subscription_create
from tracker.models.alerts import Delivery, DeliveryStatus
from tracker.services.milestones import milestone_update

from .conftest import Worker

pytestmark = pytest.mark.e2e


def test_two_workers_send_each_delivery_once_and_hold_the_endpoint_concurrency(
    worker_env, tmp_path, receiver, owner, settings
):
    paths = ["/slow"] + [f"/e{n}" for n in range(15)]
    for path in paths:
        endpoint = endpoint_create(owner=owner, data={"url": receiver.url(path)})
        subscription_create(owner=owner, data={"channel": "webhook", "endpoint": endpoint})
    changes = 8
    receiver.script("/slow", *[(200, 0.4)] * changes)
    milestone = MilestoneFactory()
    workers = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        workers.append(Worker(tmp_path / name, worker_env))
    try:
        for worker in workers:
            worker.start()
        for n in range(changes):
            milestone_update(actor=owner, milestone=milestone, data={"notes": f"change {n}"})

        expected = changes * len(paths)
        receiver.wait_for(expected, timeout=60)
        deadline = time.monotonic() + 30
        while Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() < expected:
            assert time.monotonic() < deadline, "every delivery recorded as succeeded"
            time.sleep(0.2)
    finally:
        for worker in workers:
            worker.stop()

    webhook_ids = [request.webhook_id for request in receiver.snapshot()]
    assert len(webhook_ids) == len(set(webhook_ids)) == expected  # once each, none lost
    assert set(webhook_ids) == set(Delivery.objects.values_list("message_id", flat=True))
    assert receiver.most_in_flight["/slow"] <= settings.ALERTS_ENDPOINT_CONCURRENCY
    # Both took part: each ran dispatches (8 doorbells on one queue, taken by both).
    assert all("tracker.tasks.event_dispatch" in worker.log.read_text() for worker in workers)
