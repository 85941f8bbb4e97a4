"""Editors' plans are completed, not duplicated; their facts are never overwritten (point 8)."""

import datetime

import pytest
from django.urls import reverse

from tests.factories import (
    FilingFactory,
    IpoStepFactory,
    MilestoneFactory,
    OrganizationFactory,
    ProcessFactory,
)
from tracker.models import (
    Event,
    EventType,
    Filing,
    IpoStep,
    MilestoneDependency,
    MilestoneStatus,
    Process,
    ProcessKind,
)

from .edgar_data import CIK, index_url, ipo_rows, submissions
from .helpers import sync, sync_twice

pytestmark = pytest.mark.django_db

D = datetime.date.fromisoformat


@pytest.fixture
def ipo():
    company = OrganizationFactory(name="Example Therapeutics", cik=f"{CIK:010d}", follow_edgar=True)
    process = ProcessFactory(organization=company, kind=ProcessKind.IPO, title="Our IPO plan")
    # Opened while the company prepared its 2021 IPO (the importer takes an IPO that ended
    # before its active process was opened for another, later one).
    Process.objects.filter(pk=process.pk).update(
        created_at=datetime.datetime(2020, 12, 1, tzinfo=datetime.UTC)
    )
    process.refresh_from_db()
    return process


def test_an_editors_planned_step_is_completed_with_its_target_kept(edgar, ipo):
    rows = ipo_rows()
    planned = IpoStepFactory(
        process=ipo, step="priced", title="Pricing", target_date=D("2021-06-10"),
        status=MilestoneStatus.DELAYED,
    )  # fmt: skip
    edgar.company(CIK, submissions(CIK, list(rows.values())))

    sync(ipo.organization)

    planned.refresh_from_db()
    assert (planned.status, planned.actual_date, planned.target_date) == (
        MilestoneStatus.COMPLETED,
        D("2021-06-18"),
        D("2021-06-10"),
    )
    assert planned.slip_days == 8
    assert planned.source_url == index_url(edgar.url, CIK, rows["424b4"]["accessionNumber"])
    assert IpoStep.objects.filter(step="priced").count() == 1  # not duplicated
    assert list(planned.depends_on.values_list("ipostep__step", flat=True)) == [
        "registration_effective"
    ]
    changed = Event.objects.get(milestone=planned, type=EventType.MILESTONE_STATUS_CHANGED)
    assert changed.actor_name == "importer:sec"
    assert changed.changes["status"] == ["delayed", "completed"]
    assert Filing.objects.filter(process=ipo).count() == 14  # into the editor's process


def test_an_editors_date_that_edgar_disagrees_with_is_kept_and_reported_once(
    edgar, ipo, editor, client
):
    rows = ipo_rows()
    mine = IpoStepFactory(
        process=ipo, step="public_registration_filed", title="S-1 public",
        status=MilestoneStatus.COMPLETED, actual_date=D("2021-05-01"), notes="From the press.",
    )  # fmt: skip
    edgar.company(CIK, submissions(CIK, list(rows.values())))

    events = sync_twice(edgar, ipo.organization)

    mine.refresh_from_db()
    assert mine.actual_date == D("2021-05-01") and mine.status == MilestoneStatus.COMPLETED
    assert mine.notes.startswith("From the press.\n\nEDGAR shows this step on 2021-05-03 (S-1, ")
    assert "the date entered here (2021-05-01) is kept." in mine.notes
    reported = Event.objects.get(milestone=mine)
    assert (reported.type, reported.actor_name) == (EventType.MILESTONE_UPDATED, "importer:sec")
    assert "EDGAR shows" in reported.changes["notes"][1]
    assert Event.objects.count() == events  # reported once
    assert IpoStep.objects.filter(step="public_registration_filed").count() == 1
    # Editors see it on the milestone's admin page and on the process page.
    client.force_login(editor)
    admin_page = client.get(reverse("admin:tracker_ipostep_change", args=[mine.pk]))
    assert "EDGAR shows this step on 2021-05-03" in admin_page.content.decode()
    process_page = client.get(reverse("web_process", args=[ipo.pk]))
    assert "EDGAR shows this step on 2021-05-03" in process_page.content.decode()


def test_an_editors_step_on_edgars_date_gets_the_filing_as_its_source(edgar, ipo):
    rows = ipo_rows()
    mine = IpoStepFactory(
        process=ipo, step="registration_effective", status=MilestoneStatus.COMPLETED,
        actual_date=D("2021-06-16"), source_url="",
    )  # fmt: skip
    edgar.company(CIK, submissions(CIK, list(rows.values())))

    sync(ipo.organization)

    mine.refresh_from_db()
    assert mine.source_url == index_url(edgar.url, CIK, rows["effect"]["accessionNumber"])
    assert "EDGAR" not in mine.notes


def test_a_filing_the_editor_entered_is_not_imported_twice(edgar, ipo):
    rows = ipo_rows()
    typed = FilingFactory(
        process=ipo, form_type="S-1", accession_number=rows["s1"]["accessionNumber"],
        title="S-1 as typed by an editor",
    )  # fmt: skip
    edgar.company(CIK, submissions(CIK, list(rows.values())))

    sync(ipo.organization)

    assert Filing.objects.filter(accession_number=typed.accession_number).count() == 1
    assert Filing.objects.get(pk=typed.pk).title == "S-1 as typed by an editor"
    assert Filing.objects.filter(process=ipo).count() == 14


def test_planned_comment_rounds_are_completed_in_order_and_more_are_added(edgar, ipo):
    rows = ipo_rows()
    planned = IpoStepFactory(
        process=ipo, step="sec_comment_round", title="First SEC comments",
        target_date=D("2021-02-01"),
    )  # fmt: skip
    edgar.company(CIK, submissions(CIK, list(rows.values())))

    sync(ipo.organization)

    rounds = list(IpoStep.objects.filter(step="sec_comment_round").order_by("actual_date"))
    assert [r.pk == planned.pk for r in rounds] == [True, False]
    assert [r.actual_date for r in rounds] == [D("2021-02-08"), D("2021-05-20")]
    assert rounds[0].target_date == D("2021-02-01")
    assert rounds[1].title == "SEC comment round 2"


def test_a_step_the_editor_cancelled_stays_cancelled_and_edgar_is_noted(edgar, ipo):
    cancelled = IpoStepFactory(
        process=ipo, step="confidential_draft_submitted", status=MilestoneStatus.CANCELLED
    )
    edgar.company(CIK, submissions(CIK, list(ipo_rows().values())))

    sync(ipo.organization)

    cancelled.refresh_from_db()
    assert cancelled.status == MilestoneStatus.CANCELLED
    assert "EDGAR shows this step on 2021-01-11" in cancelled.notes
    assert "the status is kept" in cancelled.notes
    public = IpoStep.objects.get(step="public_registration_filed")
    assert list(public.depends_on.all()) == [cancelled.milestone_ptr]


def test_completing_a_planned_step_keeps_the_editors_other_dependencies_and_gaps(edgar, ipo):
    board = MilestoneFactory(process=ipo, title="Board approval", target_date=D("2021-04-01"))
    planned = IpoStepFactory(
        process=ipo, step="registration_effective", status=MilestoneStatus.PLANNED,
        target_date=D("2021-06-01"),
    )  # fmt: skip
    MilestoneDependency.objects.create(milestone=planned, depends_on=board, min_gap_days=14)
    edgar.company(CIK, submissions(CIK, list(ipo_rows().values())))

    sync(ipo.organization)

    public = IpoStep.objects.get(step="public_registration_filed")
    links = dict(
        MilestoneDependency.objects.filter(milestone=planned).values_list(
            "depends_on_id", "min_gap_days"
        )
    )
    assert links == {board.pk: 14, public.pk: 0}


def test_completing_a_planned_step_keeps_the_editors_date_and_source(edgar, ipo):
    rows = ipo_rows()
    mine = IpoStepFactory(
        process=ipo, step="registration_effective", status=MilestoneStatus.IN_PROGRESS,
        target_date=D("2021-06-10"), actual_date=D("2021-06-15"),
        source_url="https://news.example.com/effective",
    )  # fmt: skip
    edgar.company(CIK, submissions(CIK, list(rows.values())))

    events = sync_twice(edgar, ipo.organization)

    mine.refresh_from_db()
    assert (mine.status, mine.actual_date, mine.source_url) == (
        MilestoneStatus.COMPLETED,
        D("2021-06-15"),
        "https://news.example.com/effective",
    )
    assert "EDGAR shows this step on 2021-06-16 (EFFECT, " in mine.notes
    assert "the date entered here (2021-06-15) is kept." in mine.notes
    assert Event.objects.count() == events  # the second sync does nothing
    assert IpoStep.objects.filter(step="registration_effective").count() == 1


def test_an_open_step_without_a_date_gets_edgars_date_and_keeps_its_source(edgar, ipo):
    rows = ipo_rows()
    mine = IpoStepFactory(
        process=ipo, step="sec_comment_round", status=MilestoneStatus.PLANNED,
        target_date=D("2021-02-01"), source_url="https://intranet.example.com/letters/1",
    )  # fmt: skip
    edgar.company(CIK, submissions(CIK, list(rows.values())))

    events = sync_twice(edgar, ipo.organization)

    mine.refresh_from_db()
    assert (mine.status, mine.actual_date, mine.source_url) == (
        MilestoneStatus.COMPLETED,
        D("2021-02-08"),
        "https://intranet.example.com/letters/1",
    )
    assert IpoStep.objects.filter(step="sec_comment_round").count() == 2  # not duplicated
    assert Event.objects.count() == events
