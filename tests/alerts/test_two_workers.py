"""Two Celery worker processes (each with its own beat running the sweep) claiming from one
database and one Redis queue, a real local receiver: every delivery arrives, a webhook-id
arrives more than once only when a retry was recorded for it, and an endpoint never has
more than ALERTS_ENDPOINT_CONCURRENCY requests in flight across both.

Test settings: retry schedule 0 s, 1 s, 10 s without jitter; sweep every half second.
"""

import re
from collections import Counter

import pytest

from tests.factories import MilestoneFactory
from tracker.models.alerts import Delivery, DeliveryAttempt, DeliveryStatus
from tracker.services.alerts import endpoint_create, subscription_create
from tracker.services.milestones import milestone_update

from .conftest import Worker
from .test_end_to_end import _wait_until

pytestmark = pytest.mark.e2e

ENDPOINTS = 6
EVENTS = 30


@pytest.fixture
def workers(worker_env, tmp_path, request):
    started = []
    for name in ("a", "b"):
        workdir = tmp_path / name
        workdir.mkdir()
        started.append(Worker(workdir, worker_env))
    yield started
    for worker in started:
        worker.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        for worker in started:
            print(worker.output())


def test_two_workers_send_each_delivery_once_per_webhook_id_and_lose_none(workers, receiver, owner):
    for number in range(ENDPOINTS):
        endpoint = endpoint_create(owner=owner, data={"url": receiver.url(f"/hook/{number}")})
        # Two subscriptions to each endpoint: still one webhook per event.
        for name in ("all", "again"):
            subscription_create(
                owner=owner, data={"channel": "webhook", "endpoint": endpoint, "name": name}
            )
    # One receiver fails at first, so retries run while both workers sweep and claim.
    receiver.script("/hook/0", (500,), (503,))
    milestones = [MilestoneFactory() for _ in range(5)]
    for worker in workers:  # both started before any work is queued (start purges the queue)
        worker.start()

    for index in range(EVENTS):
        milestone = milestones[index % len(milestones)]
        milestone_update(actor="importer:test", milestone=milestone, data={"notes": f"{index}"})

    expected = EVENTS * ENDPOINTS
    succeeded = Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED)
    _wait_until(lambda: succeeded.count() == expected, timeout=90, what="every delivery")

    deliveries = {d.message_id: d for d in Delivery.objects.all()}
    assert len(deliveries) == expected  # one per event and endpoint, none lost
    assert {(d.event_id, d.endpoint_id) for d in deliveries.values()} == {
        (event, endpoint)
        for event in {d.event_id for d in deliveries.values()}
        for endpoint in {d.endpoint_id for d in deliveries.values()}
    }
    received = Counter(request.webhook_id for request in receiver.snapshot())
    attempts = Counter(
        DeliveryAttempt.objects.values_list("delivery__message_id", flat=True).iterator()
    )
    assert set(received) == set(deliveries)
    # A webhook-id came twice only where the database recorded a second attempt: no two
    # workers sent one delivery on the same claim.
    assert received == attempts
    assert sum(received.values()) == expected + 2
    # Both workers took part.
    for worker in workers:
        log = worker.log.read_text(errors="replace")
        assert re.search(
            r"Task tracker\.tasks\.(event_dispatch|deliveries_send)\[.+\] received", log
        )


def test_two_workers_hold_an_endpoints_concurrency_between_them(workers, receiver, owner, settings):
    paths = ["/slow"] + [f"/e{n}" for n in range(15)]
    for path in paths:
        endpoint = endpoint_create(owner=owner, data={"url": receiver.url(path)})
        subscription_create(owner=owner, data={"channel": "webhook", "endpoint": endpoint})
    changes = 8
    receiver.script("/slow", *[(200, 0.4)] * changes)
    milestone = MilestoneFactory()
    for worker in workers:
        worker.start()

    for n in range(changes):
        milestone_update(actor=owner, milestone=milestone, data={"notes": f"change {n}"})

    expected = changes * len(paths)
    succeeded = Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED)
    _wait_until(lambda: succeeded.count() == expected, timeout=90, what="every delivery")
    webhook_ids = [request.webhook_id for request in receiver.snapshot()]
    assert len(webhook_ids) == len(set(webhook_ids)) == expected  # once each, none lost
    assert receiver.most_in_flight["/slow"] <= settings.ALERTS_ENDPOINT_CONCURRENCY
