"""The current-filings feed (issue point 5)."""

import pytest

from tests.factories import OrganizationFactory
from tracker.models import EdgarFeedState
from tracker.sources.edgar.client import EdgarClient
from tracker.sources.edgar.feed import feed_poll

pytestmark = pytest.mark.django_db


def poll(**kwargs):
    client = EdgarClient()
    try:
        return feed_poll(client=client, **kwargs)
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
    assert result.pages_read == 1 and len(edgar.requests) == 1
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
