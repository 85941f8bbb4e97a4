"""Syncing one organization with EDGAR: fetch (or read a saved document), parse, and hand
the filings to the write service. A failure of any step is recorded on the organization's
sync state with its reason, and nothing of that sync is written."""

import contextlib
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection

from tracker.models import EdgarSync, Organization
from tracker.services.edgar import (
    ImportResult,
    edgar_sync_apply,
    edgar_sync_fail,
    edgar_sync_unchanged,
)
from tracker.services.errors import ConcurrentUpdateError

from .client import EdgarClient, FetchError, Throttled
from .mapping import may_hold_ipo_start, tells_about_ipos
from .parse import FilingRow, ParseError, page_parse, submissions_parse

logger = logging.getLogger(__name__)

# Name the advisory locks that keep two syncs of one organization, or two feed polls, from
# running at once.
_SYNC_LOCK_CLASS = 7_201_521
FEED_LOCK_CLASS = 7_201_522


@dataclass
class SyncOutcome:
    organization: Organization
    status: str  # "imported", "unchanged", "failed", "busy", "throttled"
    message: str
    result: ImportResult | None = None
    requests: int = 0


def followed_organization_ids() -> list[int]:
    """Ids of the organizations that follow EDGAR (they all have a CIK)."""
    return list(
        Organization.objects.filter(follow_edgar=True, cik__isnull=False)
        .order_by("id")
        .values_list("id", flat=True)
    )


def organization_sync(
    *, organization: Organization, client: EdgarClient | None = None, document: bytes | None = None
) -> SyncOutcome:
    """Sync one organization: from ``document`` (a saved submissions file) when given,
    else fetched through ``client``. Never two at once for one organization: a sync that
    finds another one running returns "busy" without doing anything, and one whose client
    could not get a request slot in time returns "throttled" (nothing asked, nothing
    written)."""
    requests_before = client.requests_made if client else 0
    with advisory_try_lock(_SYNC_LOCK_CLASS, organization.pk) as acquired:
        if not acquired:
            return SyncOutcome(organization, "busy", "Another sync of it is running.")
        try:
            outcome = _sync(organization, client, document)
        except Throttled as error:
            outcome = SyncOutcome(organization, "throttled", str(error))
        except (FetchError, ParseError, ValidationError, ConcurrentUpdateError) as error:
            reason = "; ".join(error.messages) if isinstance(error, ValidationError) else str(error)
            edgar_sync_fail(organization=organization, error=reason)
            logger.warning("EDGAR sync of %s failed: %s", organization, reason)
            outcome = SyncOutcome(organization, "failed", reason)
        except Exception as error:  # a bug met by one organization must not stop the rest
            reason = f"internal error: {type(error).__name__}: {error}"
            logger.exception("EDGAR sync of %s failed", organization)
            edgar_sync_fail(organization=organization, error=reason)
            outcome = SyncOutcome(organization, "failed", reason)
    outcome.requests = (client.requests_made if client else 0) - requests_before
    return outcome


def _sync(organization, client, document) -> SyncOutcome:
    state = EdgarSync.objects.filter(organization=organization).first()
    if state is None or state.cik != organization.cik:
        # Never synced, or synced under a CIK an editor has since corrected: what the state
        # remembers (validators, page files and their rows) is another company's.
        state = EdgarSync()
    cik = int(organization.cik)
    etag = last_modified = ""
    if document is None:
        fetched = client.submissions(cik, etag=state.etag, last_modified=state.last_modified)
        if fetched is None:
            edgar_sync_unchanged(organization=organization)
            return SyncOutcome(organization, "unchanged", "Unchanged since the last sync.")
        document, etag, last_modified = fetched.body, fetched.etag, fetched.last_modified
    submissions = submissions_parse(document)
    if submissions.cik != cik:
        raise ParseError(
            f"The document is about CIK {submissions.cik}, not this organization's CIK {cik}."
        )
    page_filings = [FilingRow.from_json(row) for row in state.page_filings]
    pages_read = list(state.pages_read)
    filings = submissions.filings + page_filings
    if client is not None:
        # Page files never change once written: each is read once, newest first, while the
        # IPO's beginning may still be in one of them.
        pages = sorted(submissions.pages, key=lambda p: (p.filing_to is not None, p.filing_to))
        for page in reversed(pages):
            if page.name in pages_read:
                continue
            if not may_hold_ipo_start(filings):
                break
            rows = [row for row in page_parse(client.page(page.name)) if tells_about_ipos(row.form)]
            filings += rows
            page_filings += rows
            pages_read.append(page.name)
    result = edgar_sync_apply(
        organization=organization,
        filings=filings,
        archives_url=settings.EDGAR_ARCHIVES_URL,
        etag=etag,
        last_modified=last_modified,
        pages_read=pages_read,
        page_filings=page_filings,
    )
    status = "imported" if result.changed else "unchanged"
    return SyncOutcome(organization, status, result.summary(), result)


@contextlib.contextmanager
def advisory_try_lock(lock_class: int, key: int):
    """A session-level PostgreSQL advisory lock, taken if free (yields whether it was): it
    spans fetches, which must not hold a transaction open. SQLite, the single-worker demo,
    has nothing concurrent to keep apart."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [lock_class, key % 2**31])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [lock_class, key % 2**31])
