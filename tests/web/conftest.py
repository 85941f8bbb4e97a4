"""A small record built through the services (so every change has its event), on a fixed
day, for the page and feed tests."""

import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.cache import cache

from tracker.models import MilestoneKind
from tracker.models.milestones import AgAuthority, Agency, AgStage, IpoStepType
from tracker.services.events import events_sequence_stamp
from tracker.services.milestones import milestone_create, milestone_update
from tracker.services.organizations import organization_create
from tracker.services.processes import process_create

NOW = datetime.datetime(2026, 3, 2, 12, 0, tzinfo=datetime.UTC)
TODAY = NOW.date()
D = datetime.date


@pytest.fixture(autouse=True)
def _empty_cache():
    """Calendars are cached by content fingerprint; start every test with none."""
    cache.clear()


@pytest.fixture
def frozen(time_machine):
    """Pin "today" so that overdue and slip figures are exact."""
    time_machine.move_to(NOW, tick=False)
    return TODAY


@pytest.fixture
def record(db, frozen, editor):
    """Two organizations; Acme's IPO has one milestone of each kind plus a cancelled one."""
    acme = organization_create(
        actor="tests", data={"name": "Acme Labs", "slug": "acme", "ticker": "ACME"}
    )
    other = organization_create(actor="tests", data={"name": "Other Corp", "slug": "other"})
    ipo = process_create(
        actor=editor,
        data={"organization": acme, "kind": "ipo", "title": "Acme IPO", "slug": "ipo"},
    )
    finished = process_create(
        actor="importer:test",
        data={
            "organization": acme,
            "kind": "restructuring",
            "title": "Old restructuring",
            "slug": "old",
            "status": "completed",
        },
    )
    other_review = process_create(
        actor=editor,
        data={"organization": other, "kind": "regulatory_review", "title": "Other review"},
    )
    board = milestone_create(
        actor=editor,
        data={
            "process": ipo,
            "title": "Board approval",
            "status": "completed",
            "target_date": D(2026, 1, 10),
            "actual_date": D(2026, 1, 15),
            "source_url": "https://example.com/board-minutes",
        },
    )
    filing = milestone_create(
        actor=editor,
        kind=MilestoneKind.FILING,
        data={
            "process": ipo,
            "title": "S-1 filed",
            "agency": Agency.SEC,
            "form_type": "S-1",
            "accession_number": "0001234567-26-000001",
            "target_date": D(2026, 2, 1),
            "document_url": "https://www.sec.gov/example-s1.htm",
        },
        depends_on=[board],
    )
    # Moving the date writes a milestone.date_changed event (and raises the version).
    filing = milestone_update(actor=editor, milestone=filing, data={"target_date": D(2026, 2, 20)})
    review = milestone_create(
        actor=editor,
        kind=MilestoneKind.AG_REVIEW,
        data={
            "process": ipo,
            "title": "Delaware AG review",
            "status": "in_progress",
            "authority": AgAuthority.DELAWARE,
            "stage": AgStage.UNDER_REVIEW,
            "conditions": "Keep the mission first.",
            "target_date": D(2026, 4, 1),
        },
    )
    priced = milestone_create(
        actor=editor,
        kind=MilestoneKind.IPO_STEP,
        data={
            "process": ipo,
            "title": "IPO priced",
            "step": IpoStepType.PRICED,
            "exchange": "Nasdaq",
            "price_range_low": Decimal("40.00"),
            "price_range_high": Decimal("44.00"),
            "shares_offered": 1_000_000,
            "target_date": D(2026, 5, 1),
        },
        depends_on=[filing, review],
    )
    dropped = milestone_create(
        actor=editor,
        data={
            "process": ipo,
            "title": "Dual listing",
            "status": "cancelled",
            "target_date": D(2026, 6, 1),
        },
    )
    undated = milestone_create(actor=editor, data={"process": ipo, "title": "Lock-up release"})
    other_step = milestone_create(
        actor=editor,
        data={"process": other_review, "title": "Other decision", "target_date": D(2026, 3, 20)},
    )
    # As the dispatcher does after each commit: the events take their place in the feed.
    events_sequence_stamp()
    return SimpleNamespace(
        acme=acme,
        other=other,
        ipo=ipo,
        finished=finished,
        other_review=other_review,
        board=board,
        filing=filing,
        review=review,
        priced=priced,
        dropped=dropped,
        undated=undated,
        other_step=other_step,
    )
