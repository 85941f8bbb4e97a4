"""Slack and Teams end to end, with real parts: a Celery worker subprocess (its beat runs the
sweep every half second), Redis, PostgreSQL, a local HTTP receiver standing in for the chat
services (127.0.0.1 is in the test settings' ALERTS_CHAT_ALLOWED_HOSTS) and an aiosmtpd
SMTP server for the owner's notices.

Test settings: retry schedule 0 s, 1 s, 10 s without jitter; total send timeout 2 s.
"""

import datetime

import pytest
from django.utils import timezone

from tests.factories import MilestoneFactory, ProcessFactory
from tracker import tasks
from tracker.alerts.digests import digests_build
from tracker.models import WebhookEndpoint
from tracker.models.alerts import Delivery, DeliveryStatus, Digest, DigestStatus
from tracker.services.alerts import endpoint_create, subscription_create
from tracker.services.milestones import milestone_update

from . import chat_schemas
from .test_end_to_end import _wait_until

pytestmark = pytest.mark.e2e


def _chat_subscriber(owner, receiver, channel, path, **data):
    endpoint = endpoint_create(owner=owner, data={"channel": channel, "url": receiver.url(path)})
    subscription_create(owner=owner, data={"channel": channel, "endpoint": endpoint, **data})
    return endpoint


def test_a_change_reaches_slack_and_teams_in_their_formats(worker, receiver, owner):
    _chat_subscriber(owner, receiver, "slack", "/slack")
    _chat_subscriber(owner, receiver, "teams", "/teams")
    milestone = MilestoneFactory(title="Public S-1 filed", process=ProcessFactory(title="IPO"))
    worker.start()

    milestone_update(actor=owner, milestone=milestone, data={"status": "in_progress"})

    requests = {r.path: r for r in receiver.wait_for(2)}
    for channel in ("slack", "teams"):
        shown = chat_schemas.texts(chat_schemas.validate(channel, requests[f"/{channel}"].body))
        assert "Milestone status changed: Public S-1 filed" in shown
        assert "IPO" in shown and "Planned → In progress" in shown
        assert f"/processes/{milestone.process_id}/#milestone-{milestone.pk}" in shown
    _wait_until(
        lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 2,
        what="both chat deliveries recorded as succeeded",
    )


def test_a_failing_chat_is_retried_by_the_worker_with_every_attempt_logged(worker, receiver, owner):
    _chat_subscriber(owner, receiver, "slack", "/slack")
    receiver.script("/slack", (500,), (200,))
    milestone = MilestoneFactory()
    worker.start()

    milestone_update(actor=owner, milestone=milestone, data={"status": "delayed"})

    first, second = receiver.wait_for(2)
    assert first.body == second.body
    assert 1.0 <= second.received_at - first.received_at < 10.0  # the schedule's 1 s step
    _wait_until(
        lambda: Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).exists(),
        what="the retry to succeed",
    )
    failed, ok = Delivery.objects.get().attempts.all()
    assert (failed.http_status, failed.succeeded, ok.http_status, ok.succeeded) == (
        500,
        False,
        200,
        True,
    )


def test_a_chat_that_is_gone_is_disabled_and_its_owner_emailed(
    worker, receiver, smtp_server, owner
):
    slack = _chat_subscriber(owner, receiver, "slack", "/slack")
    teams = _chat_subscriber(owner, receiver, "teams", "/teams")
    receiver.script("/slack", (404,))  # Slack: no_service, the webhook was removed
    receiver.script("/teams", (410,))
    milestone = MilestoneFactory()
    worker.start()

    milestone_update(actor=owner, milestone=milestone, data={"status": "delayed"})

    notices = smtp_server.wait_for(2)
    assert sorted(n["Subject"] for n in notices) == [
        "[Tracker] Your Microsoft Teams endpoint was disabled",
        "[Tracker] Your Slack endpoint was disabled",
    ]
    assert {n["To"] for n in notices} == {"subscriber@example.com"}
    reasons = dict(WebhookEndpoint.objects.values_list("pk", "disabled_reason"))
    assert reasons == {
        slack.pk: "It answered 404 Not Found.",
        teams.pk: "It answered 410 Gone.",
    }
    assert not WebhookEndpoint.objects.filter(enabled=True).exists()
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.FAILED}
    assert len(receiver.requests) == 2  # not retried


@pytest.mark.parametrize("channel", ["slack", "teams"])
def test_a_daily_digest_goes_to_chat_as_one_message(worker, receiver, owner, channel):
    _chat_subscriber(owner, receiver, channel, "/chat", cadence="daily")
    first, second = MilestoneFactory(title="Delaware AG review"), MilestoneFactory()
    worker.start()
    milestone_update(actor=owner, milestone=first, data={"status": "delayed"})
    milestone_update(actor=owner, milestone=second, data={"status": "blocked"})
    _wait_until(
        lambda: Delivery.objects.filter(status=DeliveryStatus.HELD).count() == 2,
        what="both changes held for the digest",
    )
    assert not receiver.requests

    [digest_id] = digests_build(cadence="daily", now=timezone.now() + datetime.timedelta(days=1))
    tasks.digest_send.delay(digest_id)

    [request] = receiver.wait_for(1)
    shown = chat_schemas.texts(chat_schemas.validate(channel, request.body))
    assert "Daily digest: 2 changes" in shown
    assert "Delaware AG review (status Planned → Delayed)" in shown
    _wait_until(
        lambda: Digest.objects.filter(pk=digest_id, status=DigestStatus.SENT).exists(),
        what="the digest recorded as sent",
    )
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
