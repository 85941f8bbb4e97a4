"""The Celery tasks' bodies and the one-sync-per-organization lock."""

import json
import threading
import time

import pytest
import redis
from django.db import connection

from config.celery_app import app
from tests.factories import OrganizationFactory
from tracker import tasks
from tracker.models import EdgarFeedState, Event
from tracker.sources.edgar.client import EdgarClient
from tracker.sources.edgar.feed import FEED_MAX_WAIT
from tracker.sources.edgar.ratelimit import NoSlot, rate_limiter
from tracker.sources.edgar.sync import FEED_LOCK_CLASS, organization_sync

from .edgar_data import CIK, ipo_rows, parse_tolerance_document, submissions
from .helpers import advisory_lock_held

pytestmark = pytest.mark.django_db


def test_syncing_one_organization_twice_acts_once(edgar):
    company = OrganizationFactory(cik=f"{CIK:010d}", follow_edgar=True)
    edgar.company(CIK, submissions(CIK, list(ipo_rows().values())))

    first = tasks.edgar_sync_organization(company.pk)
    events = Event.objects.count()
    second = tasks.edgar_sync_organization(company.pk)

    assert first.startswith("Found 14 IPO filings; imported 14;")
    assert second == "Unchanged since the last sync."
    assert Event.objects.count() == events


def test_a_sync_never_runs_beside_another_of_the_same_organization(edgar):
    company = OrganizationFactory(cik=f"{CIK:010d}", follow_edgar=True)
    edgar.company(CIK, submissions(CIK, list(ipo_rows().values())))
    outcomes = []

    def run():
        client = EdgarClient()
        try:
            outcomes.append(organization_sync(organization=company, client=client))
        finally:
            client.close()
            connection.close()

    with connection.cursor() as cursor:  # what a running sync holds
        cursor.execute("SELECT pg_advisory_lock(7201521, %s)", [company.pk])
    try:
        thread = threading.Thread(target=run)
        thread.start()
        thread.join(10)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(7201521, %s)", [company.pk])

    assert outcomes[0].status == "busy" and edgar.requests == []


def test_the_submissions_parser_tolerates_what_changes_over_the_years():
    from tracker.sources.edgar.parse import submissions_parse

    parsed = submissions_parse(parse_tolerance_document())

    assert parsed.cik == 1766140  # an unpadded integer in older copies
    assert [(r.form, r.file_number, r.acceptance) for r in parsed.filings] == [("S-1", "", "")]
    assert parsed.pages == []


def test_the_feed_poll_syncs_the_followed_companies_in_the_feed(edgar):
    company = OrganizationFactory(cik=f"{CIK:010d}", follow_edgar=True)
    OrganizationFactory(cik="0000001002", follow_edgar=True)
    rows = ipo_rows()
    edgar.company(CIK, submissions(CIK, list(rows.values())))
    edgar.feed_entries = [(rows["424b4"]["accessionNumber"], "424B4", CIK, "Example")]

    assert tasks.edgar_feed_poll() == 1

    assert company.edgar_sync.status == "ok"
    assert edgar.paths() == ["/cgi-bin/browse-edgar", f"/submissions/CIK{CIK:010d}.json"]


def test_the_feed_poll_skips_its_round_while_edgar_asks_every_client_to_pause(edgar):
    OrganizationFactory(cik=f"{CIK:010d}", follow_edgar=True)
    edgar.feed_entries = [("0001213900-26-000001", "S-1", CIK, "Example")]
    rate_limiter().pause(600)  # after a "Request Rate Threshold Exceeded" page
    started = time.monotonic()

    assert tasks.edgar_feed_poll() == 0

    assert time.monotonic() - started < FEED_MAX_WAIT + 2  # the periodic queue moves on
    assert edgar.requests == [] and not EdgarFeedState.objects.exists()
    rate_limiter().reset()
    assert tasks.edgar_feed_poll() == 1  # the next round reads the entry


def test_only_one_feed_poll_runs_at_a_time(edgar):
    OrganizationFactory(cik=f"{CIK:010d}", follow_edgar=True)
    edgar.feed_entries = [("0001213900-26-000001", "S-1", CIK, "Example")]

    with advisory_lock_held(FEED_LOCK_CLASS, 0):  # another poll is running
        assert tasks.edgar_feed_poll() == 0

    assert edgar.requests == []


def test_the_limiter_gives_up_rather_than_wait_longer_than_asked(edgar):
    limiter = rate_limiter()
    limiter.pause(600)
    started = time.monotonic()

    with pytest.raises(NoSlot):
        limiter.acquire(max_wait=1)

    assert time.monotonic() - started < 1


def test_polling_the_feed_twice_acts_once(edgar):
    company = OrganizationFactory(cik=f"{CIK:010d}", follow_edgar=True)
    rows = ipo_rows()
    edgar.company(CIK, submissions(CIK, list(rows.values())))
    edgar.feed_entries = [(rows["424b4"]["accessionNumber"], "424B4", CIK, "Example")]
    assert tasks.edgar_feed_poll() == 1
    events = Event.objects.count()
    edgar.requests.clear()

    assert tasks.edgar_feed_poll() == 0  # nothing new in the feed

    assert edgar.paths() == ["/cgi-bin/browse-edgar"]
    assert Event.objects.count() == events
    assert company.edgar_sync.status == "ok"


def test_a_gap_in_the_feed_queues_a_sync_of_every_followed_company(edgar, settings):
    followed = [OrganizationFactory(cik=f"{cik:010d}", follow_edgar=True) for cik in (11, 12)]
    EdgarFeedState.objects.create(pk=1, last_accession="0001213900-26-000001")
    # More new filings than the five pages of 100 that one poll reads.
    edgar.feed_entries = [
        (f"0001213900-26-{n:06d}", "8-K", 7777, "Someone Else") for n in range(600, 1, -1)
    ]
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    app.control.purge()

    assert tasks.edgar_feed_poll() == 2

    queued = [json.loads(message) for message in broker.lrange("sources", 0, -1)]
    app.control.purge()
    assert sorted(m["headers"]["argsrepr"] for m in queued) == sorted(
        f"({o.pk},)" for o in followed
    )
    assert {m["headers"]["task"] for m in queued} == {"tracker.tasks.edgar_sync_organization"}
    assert EdgarFeedState.objects.get().last_accession == "0001213900-26-000600"
