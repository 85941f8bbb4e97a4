"""Fetching like a good citizen (issue point 4) and failing one organization at a time
(point 9), against a real local HTTP server."""

import datetime
import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from werkzeug import Response

from tests.factories import OrganizationFactory
from tracker import tasks
from tracker.models import EdgarSync, Event, Filing, Milestone, Organization, Process
from tracker.sources.edgar.client import EdgarClient, MissingUserAgent
from tracker.sources.edgar.ratelimit import LocalRateLimiter, RedisRateLimiter
from tracker.sources.edgar.sync import organization_sync

from .edgar_data import CIK, arrays, dumps, ipo_rows, page_entry, row, submissions
from .helpers import sync


def follow(cik=CIK, name="Example Therapeutics"):
    return OrganizationFactory(name=name, cik=f"{cik:010d}", follow_edgar=True)


@pytest.mark.django_db
def test_every_request_declares_the_user_agent_and_asks_for_gzip(edgar, settings):
    company = follow()
    rows = ipo_rows()
    page = page_entry(CIK, 1, [rows["drs"]])
    edgar.page(page["name"], arrays([rows["drs"]]))
    edgar.company(CIK, submissions(CIK, [rows["s1"]], files=[page]))
    edgar.gzip = True  # and a gzip answer is read like a plain one

    outcome = sync(company)

    assert outcome.status == "imported", outcome.message
    assert len(edgar.requests) == 2
    for seen in edgar.requests:
        assert seen.headers["User-Agent"] == settings.EDGAR_USER_AGENT
        assert "gzip" in seen.headers["Accept-Encoding"]


@pytest.mark.django_db
def test_an_unchanged_document_costs_one_304_and_no_database_writes(edgar):
    company = follow()
    edgar.company(CIK, submissions(CIK, list(ipo_rows().values())))
    sync(company)
    state = EdgarSync.objects.get(organization=company)
    assert state.etag
    edgar.requests.clear()

    with CaptureQueriesContext(connection) as queries:
        outcome = sync(company)

    assert outcome.status == "unchanged" and outcome.requests == 1
    assert edgar.requests[0].headers["If-None-Match"] == state.etag
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    # Only when EDGAR was last asked: one UPDATE of the sync state, nothing of the record.
    assert len(writes) == 1 and writes[0].startswith('UPDATE "tracker_edgarsync" SET')
    assert '"checked_at"' in writes[0]
    checked = EdgarSync.objects.get(organization=company)
    assert checked.checked_at > state.checked_at and checked.synced_at == state.synced_at
    assert not Event.objects.filter(occurred_at__gt=state.synced_at).exists()


@pytest.mark.django_db
def test_a_sync_without_a_user_agent_stops_with_what_to_set(edgar, settings):
    settings.EDGAR_USER_AGENT = ""

    with pytest.raises(MissingUserAgent, match="set EDGAR_USER_AGENT"):
        EdgarClient()
    assert edgar.requests == []


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_syncs_share_the_rate_limit(edgar, settings):
    settings.EDGAR_MAX_REQUESTS_PER_SECOND = 3
    companies = []
    for cik in (1001, 1002):
        # Four page files each without a draft: five requests per company.
        pages = []
        for number in range(1, 5):
            page = page_entry(cik, number, [row("10-K", f"201{number}-03-01")])
            edgar.page(page["name"], arrays([row("10-K", f"201{number}-03-01")]))
            pages.append(page)
        edgar.company(cik, submissions(cik, [row("10-Q", "2021-05-01")], files=pages))
        companies.append(follow(cik, name=f"Company {cik}"))

    def run(company):
        # A limiter of its own per sync, as in two worker processes: only Redis joins them.
        client = EdgarClient(limiter=RedisRateLimiter(settings.REDIS_URL, rate=3))
        try:
            organization_sync(organization=company, client=client)
        finally:
            client.close()
            connection.close()

    threads = [threading.Thread(target=run, args=(c,)) for c in companies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    times = sorted(seen.at for seen in edgar.requests)
    assert len(times) == 10
    # No more than 3 requests in any one second, as the server saw them.
    assert all(later - earlier >= 1.0 for earlier, later in zip(times, times[3:], strict=False))
    assert EdgarSync.objects.filter(status="ok").count() == 2


def test_the_per_process_limiter_holds_the_same_window():
    limiter = LocalRateLimiter(rate=3)
    taken = []

    def take():
        for _ in range(3):
            limiter.acquire()
            taken.append(time.monotonic())

    threads = [threading.Thread(target=take) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    taken.sort()
    assert all(later - earlier >= 1.0 for earlier, later in zip(taken, taken[3:], strict=False))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (None, "EDGAR knows no company with CIK 1766140 (HTTP 404)"),
        (b'{"cik": "0001766140", "filings": {"recent": {"accessionNumber": ["00', "not valid JSON"),
        (
            dumps({"cik": "1766140", "filings": {"recent": {
                "accessionNumber": ["0001213900-21-000001", "0001213900-21-000002"],
                "form": ["S-1"], "filingDate": ["2021-05-03", "2021-05-04"]}}}),
            "does not list one value per filing",
        ),
        (dumps({"cik": "1999999", "filings": {}}), "about CIK 1999999"),
    ],
)  # fmt: skip
def test_a_failed_organization_records_why_and_the_others_still_sync(edgar, document, reason):
    broken, healthy = follow(), follow(1002, name="Healthy Co")
    if document is not None:
        edgar.company(CIK, document)
    edgar.company(1002, submissions(1002, [row("S-1", "2021-05-03", file_number="333-1")]))

    outcomes = [sync(broken), sync(healthy)]

    assert [o.status for o in outcomes] == ["failed", "imported"]
    state = EdgarSync.objects.get(organization=broken)
    assert state.status == "failed" and reason in state.error
    assert not Process.objects.filter(organization=broken).exists()
    assert EdgarSync.objects.get(organization=healthy).status == "ok"


@pytest.mark.django_db
def test_a_truncated_page_file_leaves_nothing_half_written(edgar):
    company = follow()
    rows = ipo_rows()
    page = page_entry(CIK, 1, [rows["drs"]])
    edgar.page(page["name"], dumps(arrays([rows["drs"]]))[:-20])
    edgar.company(CIK, submissions(CIK, [rows["s1"], rows["effect"]], files=[page]))

    outcome = sync(company)

    assert outcome.status == "failed" and "not valid JSON" in outcome.message
    assert not Milestone.objects.exists() and not Event.objects.exists()
    # The next sync asks again in full: no validators were kept from the failed one.
    assert EdgarSync.objects.get(organization=company).etag == ""


@pytest.mark.django_db
def test_a_timeout_fails_that_organization(edgar):
    company = follow()

    def slow(request):
        time.sleep(1.5)  # the test settings' read timeout is 1 s
        return Response(dumps(submissions(CIK, [])), content_type="application/json")

    edgar.overrides[f"/submissions/CIK{CIK:010d}.json"] = slow

    outcome = sync(company)

    assert outcome.status == "failed" and "did not answer within" in outcome.message
    assert "did not answer" in EdgarSync.objects.get(organization=company).error


@pytest.mark.django_db
@pytest.mark.parametrize(("status", "body"), [(429, "busy"), (503, "down")])
def test_retry_after_is_honoured(edgar, status, body):
    company = follow()
    path = f"/submissions/CIK{CIK:010d}.json"
    answers = [Response(body, status=status, headers={"Retry-After": "1"})]
    edgar.company(CIK, submissions(CIK, [row("S-1", "2021-05-03", file_number="333-1")]))
    document = edgar.documents[path]
    edgar.overrides[path] = lambda request: (
        answers.pop() if answers else Response(document, content_type="application/json")
    )

    outcome = sync(company)

    assert outcome.status == "imported" and outcome.requests == 2
    first, second = edgar.requests
    assert second.at - first.at >= 1.0


@pytest.mark.django_db
def test_the_rate_threshold_page_makes_every_request_slow_down(edgar, settings):
    settings.EDGAR_BLOCKED_PAUSE = 1.0
    first, second = follow(), follow(1002, name="Second Co")
    edgar.overrides[f"/submissions/CIK{CIK:010d}.json"] = Response(
        "<html><h1>Your Request Originates from an Undeclared Automated Tool</h1>"
        "Request Rate Threshold Exceeded</html>",
        status=403,
    )
    edgar.company(1002, submissions(1002, []))

    failed = sync(first)
    sync(second)

    assert failed.status == "failed" and "threshold" in failed.message
    assert edgar.requests[1].at - edgar.requests[0].at >= 1.0


@pytest.mark.django_db
def test_nothing_but_the_configured_hosts_is_fetched(edgar):
    company = follow()
    edgar.overrides[f"/submissions/CIK{CIK:010d}.json"] = Response(
        status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    other = follow(1002, name="Other Co")
    edgar.company(1002, {**submissions(1002, []), "filings": {"recent": {}, "files": [
        {"name": "../../elsewhere.json"}]}})  # fmt: skip

    redirected, odd_page = sync(company), sync(other)

    assert redirected.status == "failed" and "HTTP 302" in redirected.message
    assert odd_page.status == "failed" and "page file name" in odd_page.message
    assert len(edgar.requests) == 2
    assert not Filing.objects.exists()


@pytest.mark.django_db
def test_a_corrected_cik_starts_the_sync_state_afresh(edgar):
    company = follow(1002)  # the editor typed the wrong CIK first
    wrong_page = page_entry(1002, 1, [row("S-1", "2019-02-01", file_number="333-1")])
    edgar.page(wrong_page["name"], arrays([row("S-1", "2019-02-01", file_number="333-1")]))
    edgar.company(1002, submissions(1002, [row("8-K", "2021-01-05")], files=[wrong_page]))
    sync(company)
    edgar.company(CIK, submissions(CIK, [row("S-1", "2021-05-03", file_number="333-255000")]))
    Organization.objects.filter(pk=company.pk).update(cik=f"{CIK:010d}")
    company.refresh_from_db()
    edgar.requests.clear()

    outcome = sync(company)

    assert outcome.status == "imported", outcome.message
    # Not the other company's ETag, nor its page file's rows.
    assert "If-None-Match" not in edgar.requests[0].headers
    state = EdgarSync.objects.get(organization=company)
    assert (state.cik, state.pages_read, state.page_filings) == (f"{CIK:010d}", [], [])
    assert Filing.objects.filter(filed_on=datetime.date(2021, 5, 3)).exists()


@pytest.mark.django_db
def test_last_modified_is_sent_back_as_if_modified_since(edgar):
    company = follow()
    path = f"/submissions/CIK{CIK:010d}.json"
    edgar.company(CIK, submissions(CIK, [row("S-1", "2021-05-03", file_number="333-1")]))
    document = edgar.documents[path]
    stamp = "Wed, 05 May 2021 10:00:00 GMT"

    def answer(request):
        if request.headers.get("If-Modified-Since") == stamp:
            return Response(status=304)
        return Response(document, content_type="application/json", headers={"Last-Modified": stamp})

    edgar.overrides[path] = answer
    sync(company)
    events = Event.objects.count()

    outcome = sync(company)

    assert outcome.status == "unchanged"
    assert edgar.requests[1].headers["If-Modified-Since"] == stamp
    assert Event.objects.count() == events


@pytest.mark.django_db
def test_feed_requests_declare_the_user_agent(edgar, settings):
    follow()
    edgar.feed_entries = [("0001213900-26-000001", "8-K", 7777, "Someone Else")]

    tasks.edgar_feed_poll()

    assert edgar.paths() == ["/cgi-bin/browse-edgar"]
    assert edgar.requests[0].headers["User-Agent"] == settings.EDGAR_USER_AGENT
