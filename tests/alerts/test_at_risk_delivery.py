"""At-risk alerts end to end: a slip upstream reaches a webhook subscriber of the milestone
it puts at risk, through the real worker, once."""

import datetime
import time

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tests.factories import ProcessFactory
from tracker.services.alerts import endpoint_create, subscription_create
from tracker.services.milestones import Dependency, milestone_create, milestone_update

pytestmark = pytest.mark.e2e

TODAY = timezone.localdate()  # as the services take it


def test_at_risk_and_back_on_track_reach_a_webhook_subscriber_once(worker, receiver, owner):
    endpoint = endpoint_create(owner=owner, data={"url": receiver.url("/hook")})
    subscription_create(
        owner=owner,
        data={
            "channel": "webhook",
            "endpoint": endpoint,
            "event_types": ["milestone.at_risk", "milestone.back_on_track"],
        },
    )
    process = ProcessFactory()
    filing = milestone_create(
        actor=owner,
        data={
            "process": process,
            "title": "Public S-1",
            "target_date": TODAY + datetime.timedelta(days=10),
        },
    )
    roadshow = milestone_create(
        actor=owner,
        data={
            "process": process,
            "title": "Roadshow",
            "target_date": TODAY + datetime.timedelta(days=25),
        },
        depends_on=[Dependency(filing, 15)],
    )
    worker.start()

    slipped = TODAY + datetime.timedelta(days=20)
    milestone_update(actor=owner, milestone=filing, data={"target_date": slipped})
    # The same cause again (an unrelated edit): no second alert.
    milestone_update(actor=owner, milestone=filing, data={"notes": "Auditor sign-off late."})

    [request] = receiver.wait_for(1)
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["type"] == "milestone.at_risk"
    assert body["data"]["milestone"]["id"] == roadshow.pk
    assert body["data"]["milestone"]["at_risk"] is True
    assert body["data"]["milestone"]["at_risk_reason"].startswith(
        f"Public S-1 is due on {slipped}; Roadshow needs 15 days after it"
    )

    milestone_update(
        actor=owner, milestone=filing, data={"target_date": TODAY + datetime.timedelta(days=5)}
    )
    second = receiver.wait_for(2)[1]
    assert Webhook(endpoint.secret).verify(second.body, second.headers)["type"] == (
        "milestone.back_on_track"
    )
    time.sleep(1.5)  # several sweeps: nothing else arrives
    assert len(receiver.requests) == 2
