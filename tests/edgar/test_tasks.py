"""The Celery tasks' bodies and the one-sync-per-organization lock."""

import threading

import pytest
from django.db import connection

from tests.factories import OrganizationFactory
from tracker import tasks
from tracker.models import Event
from tracker.sources.edgar.client import EdgarClient
from tracker.sources.edgar.sync import organization_sync

from .edgar_data import ipo_rows, parse_tolerance_document, submissions

pytestmark = pytest.mark.django_db

CIK = 1766140


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
