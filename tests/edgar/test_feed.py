"""The current-filings feed (issue point 5)."""

import pytest

from tests.factories import OrganizationFactory
from tracker.models import EdgarFeedState
from tracker.sources.edgar.client import EdgarClient
from tracker.sources.edgar.feed import BUSY_RETRY_SECONDS, feed_follow

from .helpers import sync_running

pytestmark = pytest.mark.django_db


class Queued(list):
    """What the poll queued: (organization ids, countdown) per call, as the task's queue
    function receives them (the task puts them on the broker)."""

    def __call__(self, organization_ids, countdown):
        self.append((sorted(organization_ids), countdown))


def poll(queue=None, **kwargs):
    client = EdgarClient()
    try:
        return feed_follow(client=client, queue=Queued() if queue is None else queue, **kwargs)
    finally:
        client.close()


def entry(n: int, cik: int, form: str = "8-K") -> tuple[str, str, int, str]:
    return (f"0001213900-26-{n:06d}", form, cik, f"Company {cik}")


@pytest.fixture
def followed():
    return [
        OrganizationFactory(name=f"Followed {cik}", cik=f"{cik:010d}", follow_edgar=True)
        for cik in (1001, 1002, 1003)
    ]


def test_followed_companies_in_the_feed_are_synced_and_others_ignored(edgar, followed):
    OrganizationFactory(name="Not followed", cik="0000002001")
    edgar.feed_entries = [
        entry(5, 1002, "S-1"),
        entry(5, 9999999995, "EFFECT"),  # the same filing for another role is read once
        entry(4, 2001),
        entry(3, 7777),
    ]

    result = poll()

    assert result.organization_ids == [followed[1].pk] and not result.gap
    assert EdgarFeedState.objects.get().last_accession == "0001213900-26-000005"
    query = edgar.requests[0].query
    assert (query["action"], query["output"], query["start"], query["count"]) == (
        ["getcurrent"],
        ["atom"],
        ["0"],
        ["100"],
    )


def test_entries_already_seen_are_not_read_again(edgar, followed):
    edgar.feed_entries = [entry(2, 1001), entry(1, 1002)]
    poll(page_size=2)
    edgar.feed_entries = [entry(3, 1003), entry(2, 1001), entry(1, 1002)]
    edgar.requests.clear()

    result = poll(page_size=2)

    assert result.organization_ids == [followed[2].pk]
    assert result.pages_read == 1
    assert edgar.paths().count("/cgi-bin/browse-edgar") == 1
    assert EdgarFeedState.objects.get().last_accession == "0001213900-26-000003"


def test_a_gap_falls_back_to_syncing_every_followed_company(edgar, followed):
    edgar.feed_entries = [entry(1, 1001)]
    poll(page_size=2)
    # Six new filings since: more than the two pages of two that a poll may read.
    edgar.feed_entries = [entry(n, 7777) for n in range(7, 1, -1)] + [entry(1, 1001)]
    edgar.requests.clear()

    result = poll(page_size=2, max_pages=2)

    assert result.gap and result.pages_read == 2
    assert sorted(result.organization_ids) == sorted(o.pk for o in followed)
    assert EdgarFeedState.objects.get().last_accession == "0001213900-26-000007"


def test_no_request_when_nobody_follows_edgar(edgar):
    OrganizationFactory(cik="0000001001")

    assert poll().organization_ids == []
    assert edgar.requests == []


def test_a_cik_is_the_ten_digits_before_the_role_whatever_the_name_holds(edgar, followed):
    fund = OrganizationFactory(name="Acme Fund", cik="0001766140", follow_edgar=True)
    edgar.feed_entries = [("0001213900-26-000009", "S-1", 1766140, "Acme Fund (2021) Trust")]

    result = poll()

    assert result.organization_ids == [fund.pk]
    assert "/submissions/CIK0001766140.json" in edgar.paths()


def test_a_poll_that_crashes_keeps_its_bookmark_so_the_filings_are_read_again(edgar, followed):
    edgar.feed_entries = [entry(1, 1001)]
    poll(page_size=2)
    edgar.feed_entries = [entry(n, 7777) for n in range(7, 1, -1)] + [entry(1, 1001)]

    def broker_down(organization_ids, countdown):
        raise ConnectionError("the broker is down")

    with pytest.raises(ConnectionError):
        poll(queue=broker_down, page_size=2, max_pages=2)

    assert EdgarFeedState.objects.get().last_accession == "0001213900-26-000001"
    queued = Queued()
    poll(queue=queued, page_size=2, max_pages=2)  # the next poll sees the gap again
    assert queued == [(sorted(o.pk for o in followed), 0)]
    assert EdgarFeedState.objects.get().last_accession == "0001213900-26-000007"


def test_a_company_whose_sync_is_running_is_synced_again_shortly(edgar, followed):
    busy = followed[0]
    edgar.feed_entries = [entry(1, 1001)]
    poll()
    edgar.feed_entries = [entry(2, 1001), entry(1, 1001)]
    queued = Queued()
    with sync_running(busy):
        result = poll(queue=queued)

    assert result.busy == [busy.pk]
    assert queued == [([busy.pk], BUSY_RETRY_SECONDS)]
