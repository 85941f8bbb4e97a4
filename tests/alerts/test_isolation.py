"""One bad receiver cannot hurt the others: at most ALERTS_ENDPOINT_CONCURRENCY requests in
flight to an endpoint, a circuit breaker that pauses an endpoint failing again and again, and
healthy receivers served while silent ones hold their sends. Real local receivers; the
tasks run in the test process."""

import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from tests.alerts.receiver import Blackhole
from tests.factories import MilestoneFactory
from tracker import tasks
from tracker.alerts import recording, sending
from tracker.alerts.dispatch import event_dispatch
from tracker.api.serializers.alerts import WebhookEndpointSerializer
from tracker.models import Event, WebhookEndpoint
from tracker.models.alerts import Delivery, DeliveryAttempt, DeliveryStatus
from tracker.services.alerts import (
    endpoint_create,
    endpoint_send_test,
    endpoint_update,
    subscription_create,
)
from tracker.services.milestones import milestone_update


def _hook(owner, url: str) -> WebhookEndpoint:
    endpoint = endpoint_create(owner=owner, data={"url": url})
    subscription_create(owner=owner, data={"channel": "webhook", "endpoint": endpoint})
    return endpoint


def _pending(changes: int = 1) -> list[int]:
    """Make ``changes`` changes and fan them out without sending; the pending ids."""
    ids = []
    milestone = MilestoneFactory()
    for n in range(changes):
        milestone_update(actor="importer:test", milestone=milestone, data={"notes": f"n{n}"})
        event = Event.objects.filter(milestone_id=milestone.pk).latest("id")
        ids += event_dispatch(event_id=event.pk).pending_ids
    return ids


@pytest.mark.django_db(transaction=True)  # two senders, each on its own connection
def test_an_endpoint_never_has_more_than_its_concurrency_in_flight(owner, receiver, settings):
    settings.ALERTS_ENDPOINT_CONCURRENCY = 2
    _hook(owner, receiver.url("/capped"))
    receiver.script("/capped", *[(200, 0.3)] * 8)
    ids = _pending(changes=8)

    def sender():
        try:
            tasks.deliveries_send(ids)
        finally:
            connection.close()

    # Two senders given the same ids at once, as two worker processes would be.
    senders = [threading.Thread(target=sender) for _ in range(2)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join(30)
    # What the busy endpoint made them leave is due: the sweep queues it, here sent directly.
    while Delivery.objects.filter(status=DeliveryStatus.PENDING).exists():
        tasks.deliveries_send(ids)

    assert receiver.most_in_flight["/capped"] == 2
    arrived = receiver.wait_for(8, path="/capped")
    assert len({request.webhook_id for request in arrived}) == 8  # each sent once
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}


@pytest.mark.django_db
def test_one_sender_sends_an_endpoints_backlog_at_its_concurrency(owner, receiver, settings):
    settings.ALERTS_ENDPOINT_CONCURRENCY = 3
    _hook(owner, receiver.url("/backlog"))
    receiver.script("/backlog", *[(200, 0.2)] * 9)

    assert tasks.deliveries_send(_pending(changes=9)) == 9

    assert receiver.most_in_flight["/backlog"] == 3


@pytest.mark.django_db
def test_the_breaker_pauses_an_endpoint_after_its_threshold_and_a_success_closes_it(
    owner, receiver, settings
):
    settings.ALERTS_BREAKER_THRESHOLD = 3
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 1, 10]  # the first pause is 1 s
    endpoint = _hook(owner, receiver.url("/sick"))
    receiver.script("/sick", *[(500,)] * 3)
    failing = _pending(changes=3)
    assert tasks.deliveries_send(failing) == 3
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 3
    assert endpoint.paused_until > timezone.now()

    # Paused: a new delivery is not attempted; it waits for the end of the pause.
    [waiting] = _pending()
    assert tasks.deliveries_send([waiting]) == 0
    assert len(receiver.requests) == 3
    assert Delivery.objects.get(pk=waiting).next_attempt_at == endpoint.paused_until

    time.sleep(max(0.0, (endpoint.paused_until - timezone.now()).total_seconds()) + 0.1)
    # The receiver answers 200 again: the first success closes the breaker.
    assert tasks.deliveries_send(failing + [waiting]) == 4
    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.paused_until) == (0, None)
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}


@pytest.mark.django_db
def test_an_owners_test_send_goes_through_a_paused_endpoint_and_closes_the_breaker(
    owner, receiver, settings
):
    settings.ALERTS_BREAKER_THRESHOLD = 1
    endpoint = _hook(owner, receiver.url("/fixed"))
    receiver.script("/fixed", (500,))
    tasks.deliveries_send(_pending())
    endpoint.refresh_from_db()
    assert endpoint.paused_until > timezone.now()

    test = endpoint_send_test(endpoint=endpoint)
    assert tasks.deliveries_send([test.pk]) == 1

    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.paused_until) == (0, None)
    assert receiver.requests[-1].json()["type"] == "webhook.test"


@pytest.mark.django_db
def test_a_failure_after_the_pause_pauses_the_endpoint_for_the_next_step(owner, receiver, settings):
    settings.ALERTS_BREAKER_THRESHOLD = 2
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 1, 10, 20]
    settings.ALERTS_ENDPOINT_CONCURRENCY = 1
    endpoint = _hook(owner, receiver.url("/down"))
    receiver.script("/down", *[(503,)] * 3)
    ids = _pending(changes=3)
    tasks.deliveries_send(ids[:2])
    endpoint.refresh_from_db()
    first_pause = endpoint.paused_until
    time.sleep(max(0.0, (first_pause - timezone.now()).total_seconds()) + 0.1)

    # Half open: one delivery goes through (the concurrency is 1), fails, and the endpoint
    # is paused again, now for the schedule's next step (10 s), before the rest is tried.
    assert tasks.deliveries_send([ids[2]]) == 1
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 3
    assert (endpoint.paused_until - timezone.now()).total_seconds() > 8
    assert tasks.deliveries_send(ids) == 0
    assert len(receiver.requests) == 3


@pytest.mark.django_db
def test_silent_receivers_do_not_hold_up_healthy_ones(owner, receiver, settings):
    # Four senders; eight endpoints that accept the connection and never answer come first.
    # Each holds a sender for ALERTS_SLOW_SEND_AFTER only, not for its whole total timeout
    # (2 s), so the healthy endpoints are all served well before the silent ones end.
    settings.ALERTS_SEND_CONCURRENCY = 4
    settings.ALERTS_SLOW_SEND_AFTER = 0.2
    blackhole = Blackhole().start()
    try:
        for n in range(8):
            _hook(owner, blackhole.url(f"/silent{n}"))
        for n in range(8):
            _hook(owner, receiver.url(f"/healthy{n}"))
        ids = _pending()
        started = time.time()

        assert tasks.deliveries_send(ids) == 16

        took = time.time() - started
    finally:
        blackhole.stop()
    healthy = receiver.wait_for(8)
    assert blackhole.accepted == 8
    assert took >= settings.WEBHOOK_TOTAL_TIMEOUT  # the silent ones took their whole time
    assert max(r.received_at for r in healthy) - started < settings.WEBHOOK_TOTAL_TIMEOUT / 2
    statuses = dict(Delivery.objects.values_list("endpoint__url", "status"))
    assert {url: s for url, s in statuses.items() if "healthy" in url} == {
        receiver.url(f"/healthy{n}"): DeliveryStatus.SUCCEEDED for n in range(8)
    }


@pytest.mark.django_db
def test_the_owner_sees_the_pause_and_turning_the_endpoint_back_on_closes_the_breaker(
    owner, receiver, settings
):
    settings.ALERTS_BREAKER_THRESHOLD = 1
    endpoint = _hook(owner, receiver.url("/flaky"))
    receiver.script("/flaky", (500,))
    tasks.deliveries_send(_pending())
    endpoint.refresh_from_db()
    shown = WebhookEndpointSerializer(endpoint).data
    assert shown["paused_until"] and shown["failing_since"]

    endpoint = endpoint_update(endpoint=endpoint, data={"enabled": False})
    endpoint = endpoint_update(endpoint=endpoint, data={"enabled": True})

    assert (endpoint.consecutive_failures, endpoint.paused_until) == (0, None)


@pytest.mark.django_db(transaction=True)  # the recorder thread uses its own connection
def test_a_fan_out_larger_than_a_claim_batch_is_recorded_beside_the_claims(
    owner, receiver, settings, monkeypatch
):
    # 150 endpoints, and one more with a backlog of 6 that its concurrency of 2 defers: the
    # deferred ones are claimed only once the recorder thread has written the results
    # before them.
    settings.ALERTS_ENDPOINT_CONCURRENCY = 2
    for n in range(150):
        _hook(owner, receiver.url(f"/e{n}"))
    ids = _pending(changes=1)
    busy = _hook(owner, receiver.url("/busy"))
    receiver.script("/busy", *[(200, 0.05)] * 6)
    backlog = _pending(changes=6)
    ids += [pk for pk in backlog if Delivery.objects.get(pk=pk).endpoint_id == busy.pk]
    assert len(ids) > sending.CLAIM_BATCH
    backends = _backends()
    threads = set()
    record = recording.deliveries_record

    def record_and_note_thread(results):
        threads.add(threading.current_thread().name)
        record(results)

    monkeypatch.setattr(recording, "deliveries_record", record_and_note_thread)

    assert tasks.deliveries_send(ids) == len(ids)

    assert threads == {"alerts-record"}

    assert set(Delivery.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
        DeliveryStatus.SUCCEEDED
    }
    assert DeliveryAttempt.objects.filter(delivery_id__in=ids).count() == len(ids)
    assert receiver.most_in_flight["/busy"] == 2
    assert _backends() == backends  # the recorder closed its connection


def _backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
        return cursor.fetchone()[0]
