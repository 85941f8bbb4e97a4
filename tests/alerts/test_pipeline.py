"""The pipeline in the test process: dispatch, matching, sending, retries, endpoint health,
redelivery, test events and the sweep. Tasks are called directly (no worker); webhooks go to
the real local receiver, email to Django's test outbox."""

import datetime

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.factories import MilestoneFactory, OrganizationFactory, ProcessFactory
from tracker import tasks
from tracker.alerts import claims, recording, sweep
from tracker.alerts.dispatch import event_dispatch
from tracker.models import Event, WebhookEndpoint
from tracker.models.alerts import Delivery, DeliveryAttempt, DeliveryStatus
from tracker.services.alerts import (
    delivery_redeliver,
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_send_test,
    subscription_create,
    subscription_unsubscribe,
)
from tracker.services.milestones import milestone_update
from tracker.services.processes import process_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(owner, receiver):
    return endpoint_create(owner=owner, data={"url": receiver.url("/hook")})


def _hook(owner, endpoint, **filters):
    organizations = filters.pop("organizations", ())
    processes = filters.pop("processes", ())
    return subscription_create(
        owner=owner,
        data={"channel": "webhook", "endpoint": endpoint, **filters},
        organizations=organizations,
        processes=processes,
    )


def _change(milestone, **data) -> Event:
    milestone_update(actor="importer:test", milestone=milestone, data=data or {"notes": "x"})
    return Event.objects.filter(milestone_id=milestone.pk).latest("id")


def test_dispatch_runs_twice_and_acts_once(owner, endpoint, receiver):
    _hook(owner, endpoint)
    subscription_create(owner=owner, data={"channel": "email"})
    event = _change(MilestoneFactory())

    assert tasks.event_dispatch(event.pk) == 2
    assert tasks.event_dispatch(event.pk) == 0

    assert Delivery.objects.filter(event=event).count() == 2
    assert len(receiver.requests) == 1
    assert len(mail.outbox) == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_the_webhook_data_carries_the_feed_sequence(owner, endpoint, receiver, client):
    _hook(owner, endpoint)
    event = _change(MilestoneFactory())

    tasks.event_dispatch(event.pk)

    event.refresh_from_db()
    [request] = receiver.requests
    data = request.json()["data"]
    assert data["sequence"] == event.sequence is not None
    assert client.get(f"/api/v1/events/{event.sequence}/").json() == data


def test_the_sweep_stamps_what_no_dispatch_has_stamped_yet():
    event = _change(MilestoneFactory())
    assert event.sequence is None  # its doorbell never rang (no commit hook in this test)

    sweep.alerts_sweep()

    event.refresh_from_db()
    assert event.sequence is not None and event.dispatched_at is None


def test_a_subscriber_to_one_process_hears_nothing_about_another(owner, endpoint, receiver):
    followed, other = ProcessFactory(), ProcessFactory()
    _hook(owner, endpoint, processes=[followed])
    quiet = _change(MilestoneFactory(process=other))
    heard = _change(MilestoneFactory(process=followed))

    tasks.event_dispatch(quiet.pk)
    tasks.event_dispatch(heard.pk)

    [request] = receiver.requests
    assert request.json()["data"]["process"]["id"] == followed.pk
    assert not Delivery.objects.filter(event=quiet).exists()


@pytest.mark.parametrize(
    ("filters", "hears"),
    [
        ({}, True),
        ({"milestone_kinds": ["filing"]}, False),
        ({"milestone_kinds": ["milestone", "filing"]}, True),
        ({"event_types": ["milestone.status_changed"]}, True),
        ({"event_types": ["milestone.overdue"]}, False),
        ({"organizations": "same"}, True),
        ({"organizations": "other"}, False),
    ],
)
def test_filters_match_on_organization_kind_and_event_type(owner, endpoint, filters, hears):
    milestone = MilestoneFactory()
    if filters.get("organizations") == "same":
        filters["organizations"] = [milestone.process.organization]
    elif filters.get("organizations") == "other":
        filters["organizations"] = [OrganizationFactory()]
    _hook(owner, endpoint, **filters)
    event = _change(milestone, status="delayed")
    tasks.event_dispatch(event.pk)
    assert Delivery.objects.filter(event=event).exists() is hears


def test_a_process_event_does_not_match_a_milestone_kind_filter(owner, endpoint):
    _hook(owner, endpoint, milestone_kinds=["filing"])
    everything = _hook(owner, endpoint)
    process = ProcessFactory()
    process_update(actor="importer:test", process=process, data={"status": "completed"})
    event = Event.objects.get(process_id=process.pk)
    tasks.event_dispatch(event.pk)
    assert [d.subscription for d in Delivery.objects.filter(event=event)] == [everything]


def test_turned_off_subscriptions_and_disabled_endpoints_hear_nothing(owner, endpoint, receiver):
    subscription_unsubscribe(subscription=_hook(owner, endpoint))
    off = endpoint_create(owner=owner, data={"url": receiver.url("/off"), "enabled": False})
    _hook(owner, off)
    event = _change(MilestoneFactory())
    assert tasks.event_dispatch(event.pk) == 0
    assert not Delivery.objects.exists()


def test_deliveries_send_runs_twice_and_acts_once(owner, endpoint, receiver):
    _hook(owner, endpoint)
    event = _change(MilestoneFactory())
    ids = [d.pk for d in _deliveries_created(event)]

    assert tasks.deliveries_send(ids) == 1
    assert tasks.deliveries_send(ids) == 0
    assert len(receiver.requests) == 1
    assert DeliveryAttempt.objects.count() == 1


def _deliveries_created(event):
    # Fan out without sending, as when the worker died right after dispatching and the
    # sweep has taken its claims back.
    event_dispatch(event_id=event.pk)
    Delivery.objects.filter(event=event).update(status=DeliveryStatus.PENDING, claimed_at=None)
    return list(Delivery.objects.filter(event=event))


@pytest.mark.django_db(transaction=True)  # the sending threads use their own connections
def test_many_deliveries_are_sent_concurrently_and_all_recorded(owner, receiver):
    for n in range(40):
        endpoint = endpoint_create(owner=owner, data={"url": receiver.url(f"/e{n}")})
        _hook(owner, endpoint)
    event = _change(MilestoneFactory())
    assert tasks.event_dispatch(event.pk) == 40
    assert len(receiver.requests) == 40
    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 40
    assert DeliveryAttempt.objects.filter(succeeded=True).count() == 40
    # Keep-alive: the fan-out to one receiver reuses connections.
    assert receiver.connections <= 16


def test_retries_follow_the_schedule_then_fail(owner, endpoint, receiver):
    _hook(owner, endpoint)
    receiver.script("/hook", (500,), (503,), (500,))
    [delivery] = _deliveries_created(_change(MilestoneFactory()))
    start = timezone.now()

    tasks.deliveries_send([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.RETRYING
    # Test schedule: 0 s, 1 s, 10 s, no jitter.
    assert 0.9 <= (delivery.next_attempt_at - start).total_seconds() < 2
    assert tasks.deliveries_send([delivery.pk]) == 0  # not due yet

    with time_machine.travel(start + datetime.timedelta(seconds=1.5)):
        tasks.deliveries_send([delivery.pk])
    with time_machine.travel(start + datetime.timedelta(seconds=15)):
        tasks.deliveries_send([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempt_count == 3
    assert [a.http_status for a in delivery.attempts.all()] == [500, 503, 500]
    assert len(receiver.requests) == 3
    assert len({r.webhook_id for r in receiver.requests}) == 1


def test_a_refused_target_fails_at_once_without_retrying(owner, settings, client):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    endpoint = endpoint_create(owner=owner, data={"url": "http://localhost:9/hook"})
    _hook(owner, endpoint)
    event = _change(MilestoneFactory())
    tasks.event_dispatch(event.pk)
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    [attempt] = delivery.attempts.all()
    assert attempt.error.startswith("Refused: the target localhost is not allowed")
    # What the owner reads in the delivery log names no internal address.
    client.force_login(owner)
    shown = client.get(f"/api/v1/deliveries/{delivery.pk}/").content.decode()
    assert "not allowed" in shown and "127.0.0.1" not in shown


def test_410_disables_the_endpoint_and_tells_its_owner(owner, endpoint, receiver):
    _hook(owner, endpoint)
    receiver.script("/hook", (410,))
    first, second = _change(MilestoneFactory()), _change(MilestoneFactory())
    _deliveries_created(second)  # waiting to be sent

    tasks.event_dispatch(first.pk)

    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "410" in endpoint.disabled_reason
    assert Delivery.objects.get(event=second).status == DeliveryStatus.CANCELLED
    [notice] = mail.outbox
    assert notice.to == ["subscriber@example.com"]
    assert "disabled" in notice.subject and "410" in notice.body


def test_an_endpoint_failing_for_five_days_is_disabled(owner, endpoint, receiver):
    _hook(owner, endpoint)
    receiver.script("/hook", (500,), (500,), (500,))
    start = timezone.now()
    tasks.event_dispatch(_change(MilestoneFactory()).pk)
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is not None

    with time_machine.travel(start + datetime.timedelta(days=4, hours=23)):
        tasks.event_dispatch(_change(MilestoneFactory()).pk)
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert not mail.outbox

    with time_machine.travel(start + datetime.timedelta(days=5, minutes=1)):
        tasks.event_dispatch(_change(MilestoneFactory()).pk)
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "failed for 5 days" in endpoint.disabled_reason
    assert len(mail.outbox) == 1


def test_a_success_ends_the_failure_streak(owner, endpoint, receiver):
    _hook(owner, endpoint)
    receiver.script("/hook", (500,))
    tasks.event_dispatch(_change(MilestoneFactory()).pk)
    tasks.event_dispatch(_change(MilestoneFactory()).pk)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_a_redelivery_keeps_the_webhook_id(owner, endpoint, receiver):
    _hook(owner, endpoint)
    tasks.event_dispatch(_change(MilestoneFactory()).pk)
    delivery = Delivery.objects.get()

    delivery_redeliver(delivery=delivery)
    assert tasks.deliveries_send([delivery.pk]) == 1

    first, again = receiver.requests
    assert first.webhook_id == again.webhook_id == delivery.message_id
    assert first.body == again.body
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    assert delivery.attempts.count() == 2


def test_a_test_event_goes_through_the_pipeline_signed(endpoint, receiver):
    delivery = endpoint_send_test(endpoint=endpoint)
    tasks.deliveries_send([delivery.pk])
    [request] = receiver.requests
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["type"] == "webhook.test"
    assert request.webhook_id == delivery.message_id
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED


def test_after_a_rotation_both_secrets_sign_until_the_grace_period_ends(endpoint, receiver):
    old = endpoint.secret
    endpoint = endpoint_rotate_secret(endpoint=endpoint)
    assert endpoint.secret != old

    tasks.deliveries_send([endpoint_send_test(endpoint=endpoint).pk])
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=25)):
        tasks.deliveries_send([endpoint_send_test(endpoint=endpoint).pk])

    during, after = receiver.requests
    Webhook(old).verify(during.body, during.headers)
    Webhook(endpoint.secret).verify(during.body, during.headers)
    assert len(after.headers["webhook-signature"].split()) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)


def test_an_immediate_email_is_multipart_with_one_click_unsubscribe(owner):
    subscription_create(owner=owner, data={"channel": "email"})
    milestone = MilestoneFactory(title="Delaware AG review")
    tasks.event_dispatch(_change(milestone, status="delayed").pk)
    [message] = mail.outbox
    assert message.to == ["subscriber@example.com"]
    assert "Delaware AG review" in message.subject
    assert "status: planned -> delayed" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and "&rarr;" in html
    assert message.extra_headers["List-Unsubscribe"].startswith("<http")
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_delivery_of_a_turned_off_subscription_is_cancelled(owner, endpoint, receiver):
    subscription = _hook(owner, endpoint)
    [delivery] = _deliveries_created(_change(MilestoneFactory()))
    subscription_unsubscribe(subscription=subscription)
    tasks.deliveries_send([delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.CANCELLED
    assert not receiver.requests


def test_the_sweep_runs_twice_and_reclaims_once(owner, endpoint, receiver):
    _hook(owner, endpoint)
    [delivery] = _deliveries_created(_change(MilestoneFactory()))
    claimed_at = timezone.now() - datetime.timedelta(seconds=10)  # older than 2 s + 1 s
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING, claimed_at=claimed_at
    )

    assert sweep.alerts_sweep().reclaimed == 1
    assert sweep.alerts_sweep().reclaimed == 0
    delivery.refresh_from_db()
    # The lost send counts as an attempt: retried on the schedule's next step (1 s).
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.RETRYING, 1)
    assert delivery.attempts.get().error == recording.WORKER_LOST
    assert tasks.deliveries_send([delivery.pk]) == 0
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=1.5)):
        assert tasks.deliveries_send([delivery.pk]) == 1
        assert tasks.deliveries_send([delivery.pk]) == 0
    assert len(receiver.requests) == 1


def test_work_that_kills_its_worker_every_time_ends_failed(owner, endpoint, receiver):
    # A poison delivery: every worker that claims it dies or hangs. Each reclaim is an
    # attempt, and once the retry schedule (3 attempts in the tests) is spent it has failed.
    _hook(owner, endpoint)
    [delivery] = _deliveries_created(_change(MilestoneFactory()))
    now = timezone.now()
    for _ in settings.WEBHOOK_RETRY_SCHEDULE:
        now += datetime.timedelta(seconds=11)  # the retry is due (steps of 1 and 10 s)
        claimed = claims.deliveries_claim(ids=[delivery.pk], now=now, events={}).deliveries
        assert claimed, "claimable again after each reclaim"
        now += claims.claim_timeout() + datetime.timedelta(seconds=1)  # the worker is gone
        with time_machine.travel(now):
            assert sweep.alerts_sweep().reclaimed == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.FAILED, 3)
    assert [a.error for a in delivery.attempts.all()] == [recording.WORKER_LOST] * 3
    assert not claims.deliveries_claim(ids=[delivery.pk], now=now, events={}).deliveries
    assert not receiver.requests


def test_the_sweep_leaves_a_recent_claim_alone(owner, endpoint):
    _hook(owner, endpoint)
    [delivery] = _deliveries_created(_change(MilestoneFactory()))
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.SENDING, claimed_at=timezone.now()
    )
    assert sweep.alerts_sweep().reclaimed == 0


def test_the_sweep_finds_undispatched_events_and_due_deliveries(owner, endpoint):
    _hook(owner, endpoint)
    waiting = _change(MilestoneFactory())
    _deliveries_created(_change(MilestoneFactory()))
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=5)):
        report = sweep.alerts_sweep()
    assert (report.events, report.deliveries) == (1, 1)
    assert Event.objects.get(pk=waiting.pk).dispatched_at is None  # queued, not done here


def test_pruning_runs_twice_and_acts_once(owner, endpoint):
    _hook(owner, endpoint)
    tasks.event_dispatch(_change(MilestoneFactory()).pk)
    later = timezone.now() + datetime.timedelta(days=91)
    with time_machine.travel(later):
        assert tasks.deliveries_prune() == {"deliveries": 1, "attempts": 1}
        assert tasks.deliveries_prune() == {"deliveries": 0, "attempts": 0}
    assert Delivery.objects.count() == 0
    assert Event.objects.count() == 1  # events are the audit log: kept
    assert WebhookEndpoint.objects.count() == 1


def test_the_sweep_requeues_doorbell_work_after_the_requeue_grace_and_not_every_sweep(
    owner, endpoint, settings
):
    settings.ALERTS_SWEEP_REQUEUE_GRACE = 30
    _hook(owner, endpoint)
    _change(MilestoneFactory())  # its doorbell was lost: undispatched
    [pending] = _deliveries_created(_change(MilestoneFactory()))  # never attempted
    [retry] = _deliveries_created(_change(MilestoneFactory()))
    start = timezone.now()
    Delivery.objects.filter(pk=retry.pk).update(
        status=DeliveryStatus.RETRYING, attempt_count=1, next_attempt_at=start
    )

    def sweep_at(seconds):
        with time_machine.travel(start + datetime.timedelta(seconds=seconds)):
            report = sweep.alerts_sweep()
        return report.events, report.deliveries

    # A retry has no doorbell: queued when due. The rest waits for the grace.
    assert sweep_at(5) == (0, 1)
    assert sweep_at(10) == (0, 0)  # not again while it may still be in the queue
    assert sweep_at(31) == (1, 1)  # the event and the never-attempted delivery
    assert sweep_at(36) == (0, 1)  # the retry, 30 s after it was queued
    assert sweep_at(40) == (0, 0)
    assert sweep_at(62) == (1, 1)
    assert Delivery.objects.get(pk=pending.pk).status == DeliveryStatus.PENDING
