"""From a filing in EDGAR's feed to a subscriber's webhook, with real parts: a Celery worker
subprocess polls the local EDGAR stand-in's feed, syncs the followed company, and delivers
the alert of the step it advanced to a local receiver."""

import datetime

import pytest
from standardwebhooks.webhooks import Webhook

from tests.factories import IpoStepFactory, OrganizationFactory, ProcessFactory
from tracker import tasks
from tracker.models import IpoStep, MilestoneStatus, ProcessKind
from tracker.services.alerts import endpoint_create, subscription_create

from .edgar_data import CIK, index_url, ipo_rows, submissions

pytestmark = pytest.mark.e2e


def test_a_filing_in_the_feed_reaches_a_webhook_as_an_advanced_step(worker, edgar, receiver, owner):
    company = OrganizationFactory(name="Example Therapeutics", cik=f"{CIK:010d}", follow_edgar=True)
    ipo = ProcessFactory(organization=company, kind=ProcessKind.IPO)
    planned = IpoStepFactory(
        process=ipo, step="priced", title="IPO priced", target_date=datetime.date(2021, 6, 10)
    )
    endpoint = endpoint_create(owner=owner, data={"url": receiver.url("/hook")})
    subscription_create(
        owner=owner,
        data={"channel": "webhook", "endpoint": endpoint,
              "event_types": ["milestone.status_changed"]},
    )  # fmt: skip
    rows = ipo_rows()
    edgar.company(CIK, submissions(CIK, list(rows.values())))
    edgar.feed_entries = [
        (rows["424b4"]["accessionNumber"], "424B4", CIK, "Example Therapeutics"),
        ("0001111111-26-000001", "8-K", 1111111, "Someone Else"),
    ]
    worker.env.update(EDGAR_BASE_URL=edgar.url, EDGAR_ARCHIVES_URL=edgar.url)
    worker.start()

    tasks.edgar_feed_poll.delay()

    [request] = receiver.wait_for(1, timeout=30)
    body = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert body["type"] == "milestone.status_changed"
    assert body["data"]["actor"]["name"] == "importer:sec"
    milestone = body["data"]["milestone"]
    assert milestone["id"] == planned.pk
    assert body["data"]["changes"] == {
        "status": ["planned", "completed"],
        "actual_date": [None, "2021-06-18"],
    }
    planned = IpoStep.objects.get(pk=planned.pk)
    assert planned.status == MilestoneStatus.COMPLETED
    assert planned.source_url == index_url(edgar.url, CIK, rows["424b4"]["accessionNumber"])
    assert "/cgi-bin/browse-edgar" in edgar.paths()
    assert f"/submissions/CIK{CIK:010d}.json" in edgar.paths()
