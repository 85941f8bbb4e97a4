"""End to end, with real parts: a Celery worker subprocess (its beat runs the sweep every
half second), Redis, PostgreSQL, a local HTTP receiver and an aiosmtpd SMTP server.

Test settings: retry schedule 0 s, 1 s, 10 s without jitter; total send timeout 2 s;
reclaim margin 1 s.
"""

import subprocess
import sys
import threading
import time

import pytest
from django.conf import settings
from standardwebhooks.webhooks import Webhook

from tests.factories import MilestoneFactory
from tracker.alerts.unsubscribe import unsubscribe_token_read
from tracker.models import Event
from tracker.models.alerts import Delivery, DeliveryStatus
from tracker.services.alerts import endpoint_create, subscription_create
from tracker.services.milestones import milestone_update

from .conftest import ROOT

pytestmark = pytest.mark.e2e


def _wait_until(condition, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"Timed out waiting for {what}")


def _webhook_subscriber(owner, receiver, path="/hook"):
    endpoint = endpoint_create(owner=owner, data={"url": receiver.url(path)})
    subscription_create(owner=owner, data={"channel": "webhook", "endpoint": endpoint})
    return endpoint


def test_a_change_reaches_a_webhook_and_an_email_subscriber(worker, receiver, smtp_server, owner):
    endpoint = _webhook_subscriber(owner, receiver)
    by_email = subscription_create(owner=owner, data={"channel": "email"})
    milestone = MilestoneFactory(title="Public S-1 filed")
    worker.start()

    milestone_update(actor=owner, milestone=milestone, data={"status": "in_progress"})

    [request] = receiver.wait_for(1)
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["type"] == "milestone.status_changed"
    assert body["data"]["milestone"]["title"] == "Public S-1 filed"
    assert body["data"]["changes"] == {"status": ["planned", "in_progress"]}
    assert set(body) == {"type", "id", "timestamp", "data"}
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert request.webhook_id == delivery.message_id

    [mail] = smtp_server.wait_for(1)
    assert mail["To"] == "subscriber@example.com"
    assert "Public S-1 filed" in mail["Subject"]
    # (a long header is folded onto a continuation line; the folding whitespace is not data)
    link = mail["List-Unsubscribe"].strip()
    assert link.startswith(f"<{settings.SITE_URL}/unsubscribe/") and link.endswith("/>")
    assert unsubscribe_token_read(link.rstrip("/>").rsplit("/", 1)[1]) == by_email
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "in_progress" in mail.get_body(("plain",)).get_content()
    assert "<html>" in mail.get_body(("html",)).get_content()
    _wait_until(
        lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 2,
        what="both deliveries recorded as succeeded",
    )


def test_a_change_committed_while_the_broker_is_down_is_delivered_once_it_is_back(
    worker, worker_env, receiver, smtp_server, owner
):
    _webhook_subscriber(owner, receiver)
    subscription_create(owner=owner, data={"channel": "email"})
    milestone = MilestoneFactory()
    # The change is made by another process whose broker address is dead (nothing listens
    # on port 9), as when Redis is down: the commit must succeed and quickly.
    script = (
        "import time; from tracker.models import Milestone; "
        "from tracker.services.milestones import milestone_update; "
        f"m = Milestone.objects.get(pk={milestone.pk}); t = time.monotonic(); "
        "milestone_update(actor='importer:test', milestone=m, data={'status': 'delayed'}); "
        "print(round(time.monotonic() - t, 2))"
    )
    dead = {**worker_env, "REDIS_URL": "redis://127.0.0.1:9/1", "CELERY_BROKER_URL": ""}
    dead.pop("CELERY_BROKER_URL")
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        cwd=ROOT, env=dead, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert float(result.stdout.strip().splitlines()[-1]) < 5
    assert "Could not queue" in result.stderr
    event = Event.objects.get(milestone_id=milestone.pk, type="milestone.status_changed")
    assert event.dispatched_at is None

    worker.start()  # the broker is "back": the sweep finds the undispatched event

    receiver.wait_for(1)
    smtp_server.wait_for(1)
    time.sleep(2)  # several more sweeps run meanwhile
    assert len(receiver.requests) == 1
    assert len(smtp_server.messages) == 1
    assert Delivery.objects.filter(event=event).count() == 2


def test_a_worker_killed_mid_delivery_is_redone_with_the_same_webhook_id(
    worker, receiver, owner, request
):
    _webhook_subscriber(owner, receiver, path="/slow")
    # The first request is held until the worker has been killed, however slow the machine.
    held = threading.Event()
    request.addfinalizer(held.set)
    receiver.script("/slow", (200, held))
    milestone = MilestoneFactory()
    worker.start()
    milestone_update(actor=owner, milestone=milestone, data={"title": "Roadshow launched"})
    [first] = receiver.wait_for(1)
    worker.kill()
    held.set()  # the answer now goes to a dead connection
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.SENDING

    worker.start()
    requests = receiver.wait_for(2, timeout=30)
    _wait_until(
        lambda: Delivery.objects.get().status == DeliveryStatus.SUCCEEDED,
        what="the reclaimed delivery to succeed",
    )
    assert [r.webhook_id for r in requests] == [first.webhook_id] * 2
    assert requests[0].body == requests[1].body
    time.sleep(1.5)
    assert len(receiver.requests) == 2


def test_a_failing_receiver_is_retried_on_schedule_with_every_attempt_logged(
    worker, receiver, owner
):
    _webhook_subscriber(owner, receiver)
    receiver.script("/hook", (500,), (200,))
    _webhook_subscriber(owner, receiver, path="/slow")
    # Slower than the 2 s total timeout: a failed attempt, then a quick 200.
    receiver.script("/slow", (200, 3.0))
    milestone = MilestoneFactory()
    worker.start()
    milestone_update(actor=owner, milestone=milestone, data={"notes": "SEC comments received"})

    failing = receiver.wait_for(2, path="/hook")
    assert failing[0].webhook_id == failing[1].webhook_id
    # Retried after the schedule's 1 s: not sooner, and well before the next step (10 s)
    # would have been due. (Sweep intervals and a busy machine add a few seconds.)
    gap = failing[1].received_at - failing[0].received_at
    assert settings.WEBHOOK_RETRY_SCHEDULE[1:3] == [1, 10]
    assert 1.0 <= gap < 10.0
    slow = receiver.wait_for(2, path="/slow")
    assert slow[0].webhook_id == slow[1].webhook_id
    _wait_until(
        lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 2,
        what="both deliveries to succeed",
    )
    by_path = {d.endpoint.url.rsplit("/", 1)[1]: d for d in Delivery.objects.all()}
    error, ok = by_path["hook"].attempts.all()
    assert (error.http_status, error.succeeded, ok.http_status, ok.succeeded) == (
        500,
        False,
        200,
        True,
    )
    assert "scripted" in error.response_body
    assert "only 2xx" in error.error
    timed_out, ok = by_path["slow"].attempts.all()
    assert timed_out.http_status is None
    assert "within 2 s" in timed_out.error
    assert timed_out.duration_ms >= 1900
    assert ok.succeeded


def test_a_subscription_created_after_a_backlog_hears_only_what_follows(worker, receiver, owner):
    # The run: the demo's changes committed while no worker ran, then a webhook
    # subscription a moment later; the sweep dispatches the backlog late.
    milestones = [MilestoneFactory() for _ in range(3)]
    for milestone in milestones:
        milestone_update(actor="importer:demo", milestone=milestone, data={"notes": "demo"})
    _webhook_subscriber(owner, receiver)
    worker.start()  # purges the queue: the backlog's doorbells are lost, as in a broker restart

    _wait_until(
        lambda: not Event.objects.filter(dispatched_at__isnull=True).exists(),
        what="the sweep to dispatch the backlog",
    )
    milestone_update(actor=owner, milestone=milestones[0], data={"notes": "after"})
    after = Event.objects.latest("id")

    [request] = receiver.wait_for(1)
    assert request.json()["id"] == str(after.uuid)
    time.sleep(1)  # two more sweeps: nothing else arrives
    assert len(receiver.requests) == 1
