"""The current-filings feed: one request tells which companies filed since the last poll.

The feed lists the latest filings of every company, newest first, a page at a time. The
poller reads pages until it reaches the newest filing it saw last time (so an overlap is not
read again) and syncs the followed organizations that appear in them. When even the pages
it may read do not reach back that far, filings were missed: every followed organization is
queued for its per-company sync. The bookmark moves only once that is done, so a poll that
crashes half-way leaves it where it was and the next poll reads the same entries again.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from tracker.models import EdgarFeedState, Organization
from tracker.services.edgar import edgar_feed_bookmark

from .client import EdgarClient, FetchError
from .parse import ParseError, feed_parse
from .sync import FEED_LOCK_CLASS, advisory_try_lock, followed_organization_ids, organization_sync

logger = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_PAGES = 5
# The feed poll runs every minute on the periodic queue beside the sweep: it never waits
# longer than this for a request slot (EDGAR asked for a pause, or a full round holds the
# window); it skips the round instead, and the next poll reads the same entries.
FEED_MAX_WAIT = 5.0
# A company whose sync was running when the feed named it is synced again this much later:
# the running sync may have fetched its document before the new filing.
BUSY_RETRY_SECONDS = 30

# queue(organization_ids, countdown): queue one sync task per organization.
Queue = Callable[[list[int], int], object]


@dataclass
class FeedResult:
    organization_ids: list[int] = field(default_factory=list)
    pages_read: int = 0
    gap: bool = False
    newest: str = ""  # the newest accession number read, the next bookmark
    last_seen: str = ""  # the bookmark this poll started from
    busy: list[int] = field(default_factory=list)  # synced again later
    skipped: str = ""  # why this round was skipped, if it was


def feed_round(*, queue: Queue, **kwargs) -> FeedResult:
    """One poll of the feed, unless another is running or EDGAR's rate limit would make it
    wait; a skipped round is logged and changes nothing (its entries are read next time)."""
    with advisory_try_lock(FEED_LOCK_CLASS, 0) as acquired:
        if not acquired:
            logger.info("EDGAR feed poll skipped: another poll is running.")
            return FeedResult(skipped="another poll is running")
        client = EdgarClient(max_wait=FEED_MAX_WAIT)
        try:
            return feed_follow(client=client, queue=queue, **kwargs)
        except (FetchError, ParseError) as error:
            logger.warning("EDGAR feed poll skipped: %s", error)
            return FeedResult(skipped=str(error))
        finally:
            client.close()


def feed_follow(
    *, client: EdgarClient, queue: Queue, page_size: int = PAGE_SIZE, max_pages: int = MAX_PAGES
) -> FeedResult:
    """Read the feed's new entries and sync the followed organizations in it (or, after a
    gap, queue a sync of every followed organization); then move the bookmark."""
    result = feed_poll(client=client, page_size=page_size, max_pages=max_pages)
    if result.gap:
        queue(result.organization_ids, 0)
    else:
        for organization in Organization.objects.filter(pk__in=result.organization_ids):
            outcome = organization_sync(organization=organization, client=client)
            if outcome.status in ("busy", "throttled"):
                result.busy.append(organization.pk)
        if result.busy:
            queue(result.busy, BUSY_RETRY_SECONDS)
    if result.newest and result.newest != result.last_seen:
        edgar_feed_bookmark(last_accession=result.newest)
    return result


def feed_poll(
    *, client: EdgarClient, page_size: int = PAGE_SIZE, max_pages: int = MAX_PAGES
) -> FeedResult:
    """Read the feed's new entries: the followed organizations to sync now (all of them
    after a gap). Writes nothing."""
    followed = followed_organization_ids()
    if not followed:
        return FeedResult()  # nobody to tell: spare EDGAR the request
    state = EdgarFeedState.objects.filter(pk=1).first()
    result = FeedResult(last_seen=state.last_accession if state else "")
    ciks: set[int] = set()
    reached = False
    for page in range(max_pages):
        entries = feed_parse(client.feed_page(start=page * page_size, count=page_size))
        result.pages_read += 1
        if page == 0 and entries:
            result.newest = entries[0].accession_number
        for entry in entries:
            if entry.accession_number == result.last_seen:
                reached = True
                break
            ciks.add(entry.cik)
        # A short page is the feed's end (entries repeat per filer role: count them all).
        if reached or not result.last_seen or len(entries) < page_size:
            break
    # The first poll has nothing to compare with; the periodic full sync covers the past.
    result.gap = bool(result.last_seen) and not reached
    if result.gap:
        logger.info("EDGAR feed: more new filings than %s pages; syncing everyone", max_pages)
        result.organization_ids = followed
    else:
        result.organization_ids = list(
            Organization.objects.filter(
                pk__in=followed, cik__in=[f"{cik:010d}" for cik in ciks]
            ).values_list("id", flat=True)
        )
    return result
