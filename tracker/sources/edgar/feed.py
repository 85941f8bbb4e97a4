"""The current-filings feed: one request tells which companies filed since the last poll.

The feed lists the latest filings of every company, newest first, a page at a time. The
poller reads pages until it reaches the newest filing it saw last time (so an overlap is not
read again) and returns the followed organizations that appear in them. When even the pages
it may read do not reach back that far, filings were missed: every followed organization is
returned, so each gets its per-company sync.
"""

from dataclasses import dataclass, field

from tracker.models import EdgarFeedState, Organization
from tracker.services.edgar import edgar_feed_bookmark

from .client import EdgarClient
from .parse import feed_parse
from .sync import followed_organization_ids

PAGE_SIZE = 100
MAX_PAGES = 5


@dataclass
class FeedResult:
    organization_ids: list[int] = field(default_factory=list)
    pages_read: int = 0
    gap: bool = False


def feed_poll(
    *, client: EdgarClient, page_size: int = PAGE_SIZE, max_pages: int = MAX_PAGES
) -> FeedResult:
    """Read the feed's new entries; the followed organizations to sync now."""
    followed = followed_organization_ids()
    if not followed:
        return FeedResult()  # nobody to tell: spare EDGAR the request
    state = EdgarFeedState.objects.filter(pk=1).first()
    last_seen = state.last_accession if state else ""
    result = FeedResult()
    ciks: set[int] = set()
    newest = ""
    reached = False
    for page in range(max_pages):
        entries = feed_parse(client.feed_page(start=page * page_size, count=page_size))
        result.pages_read += 1
        if page == 0 and entries:
            newest = entries[0].accession_number
        for entry in entries:
            if entry.accession_number == last_seen:
                reached = True
                break
            ciks.add(entry.cik)
        if reached or not last_seen or len(entries) < page_size:
            break
    # The first poll has nothing to compare with; the periodic full sync covers the past.
    result.gap = bool(last_seen) and not reached
    if result.gap:
        result.organization_ids = followed
    else:
        result.organization_ids = list(
            Organization.objects.filter(
                pk__in=followed, cik__in=[f"{cik:010d}" for cik in ciks]
            ).values_list("id", flat=True)
        )
    if newest and newest != last_seen:
        edgar_feed_bookmark(last_accession=newest)
    return result
