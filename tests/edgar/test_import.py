"""The IPO rules (EDGAR.md, issue point 7) applied to documents served over HTTP."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.factories import ProcessFactory
from tracker.models import (
    EdgarSync,
    Event,
    EventType,
    Filing,
    IpoStep,
    MilestoneStatus,
    Process,
    ProcessKind,
    ProcessStatus,
)
from tracker.services.milestones import milestone_create

from .edgar_data import CIK, arrays, index_url, ipo_rows, page_entry, row, submissions
from .helpers import sync

pytestmark = pytest.mark.django_db

D = datetime.date.fromisoformat


def steps(process) -> dict[str, list[IpoStep]]:
    found: dict[str, list[IpoStep]] = {}
    for step in IpoStep.objects.filter(process=process).order_by("actual_date", "id"):
        found.setdefault(step.step, []).append(step)
    return found


def test_an_ipo_becomes_filings_and_completed_steps_citing_edgar(edgar, company):
    rows = ipo_rows()
    edgar.company(CIK, submissions(CIK, list(rows.values())))

    outcome = sync(company)

    assert outcome.status == "imported", outcome.message
    process = Process.objects.get(organization=company)
    assert (process.kind, process.title, process.status) == (
        ProcessKind.IPO,
        "IPO",
        ProcessStatus.ACTIVE,
    )
    ipo_forms = ["drs", "drsltr", "upload1", "drsa", "s1", "upload2", "corresp", "s1a", "8a",
                 "cert", "effect", "mef", "upload_late", "424b4"]  # fmt: skip
    filings = {f.accession_number: f for f in Filing.objects.filter(process=process)}
    assert set(filings) == {rows[key]["accessionNumber"] for key in ipo_forms}
    s1 = filings[rows["s1"]["accessionNumber"]]
    url = index_url(edgar.url, CIK, s1.accession_number)
    assert (s1.agency, s1.form_type, s1.filed_on, s1.status, s1.actual_date) == (
        "sec",
        "S-1",
        D("2021-05-03"),
        MilestoneStatus.COMPLETED,
        D("2021-05-03"),
    )
    assert s1.document_url == s1.source_url == url

    found = steps(process)
    expected = {
        "confidential_draft_submitted": ["drs"],
        "sec_comment_round": ["upload1", "upload2"],  # not the one after effectiveness
        "public_registration_filed": ["s1"],
        "listing_registered": ["8a"],
        "exchange_certified": ["cert"],
        "registration_effective": ["effect"],
        "priced": ["424b4"],
    }
    assert {k: len(v) for k, v in found.items()} == {k: len(v) for k, v in expected.items()}
    for step_type, keys in expected.items():
        for step, key in zip(found[step_type], keys, strict=True):
            accession = rows[key]["accessionNumber"]
            assert step.status == MilestoneStatus.COMPLETED
            assert step.actual_date == D(rows[key]["filingDate"])
            assert step.source_url == index_url(edgar.url, CIK, accession)

    draft, public = found["confidential_draft_submitted"][0], found["public_registration_filed"][0]
    effective, priced = found["registration_effective"][0], found["priced"][0]
    assert list(public.depends_on.all()) == [draft.milestone_ptr]
    assert list(effective.depends_on.all()) == [public.milestone_ptr]
    assert list(priced.depends_on.all()) == [effective.milestone_ptr]
    assert set(Event.objects.values_list("actor_name", flat=True)) == {"importer:sec"}
    state = EdgarSync.objects.get(organization=company)
    assert state.status == "ok" and "Found 14 IPO filings" in state.summary


def test_effect_and_prospectus_count_only_for_the_ipo_registration(edgar, company):
    rows = [
        row("S-1", "2021-05-03", file_number="333-255000"),
        row("EFFECT", "2021-05-20", file_number="333-199999"),  # another registration
        row("424B4", "2021-05-21", file_number="333-199999"),
        row("EFFECT", "2021-06-16", file_number="333-255000"),
        row("424B1", "2021-06-17", file_number="333-255000"),
    ]
    edgar.company(CIK, submissions(CIK, rows))

    sync(company)

    found = steps(Process.objects.get(organization=company))
    assert found["registration_effective"][0].actual_date == D("2021-06-16")
    assert found["priced"][0].actual_date == D("2021-06-17")


def test_a_foreign_issuers_f1_is_the_public_filing_and_earliest_wins_by_acceptance(edgar, company):
    rows = [
        # Two filings of one registration on one day (another 333- number would be another
        # attempt): the public filing is the earlier by acceptance time.
        row("F-1", "2021-05-03", file_number="333-255002", acceptance="2021-05-03T18:00:00.000Z"),
        row("F-1", "2021-05-03", file_number="333-255002", acceptance="2021-05-03T09:00:00.000Z"),
        row("EFFECT", "2021-06-01", file_number="333-255001"),
        row("EFFECT", "2021-06-02", file_number="333-255002"),
    ]
    edgar.company(CIK, submissions(CIK, rows))

    sync(company)

    found = steps(Process.objects.get(organization=company))
    assert found["public_registration_filed"][0].source_url.endswith(
        f"{rows[1]['accessionNumber']}-index.htm"
    )
    assert found["registration_effective"][0].actual_date == D("2021-06-02")


def test_a_withdrawal_abandons_the_ipo_once(edgar, company):
    rows = [
        row("S-1", "2021-05-03", file_number="333-255000"),
        row("RW", "2021-09-01", file_number="333-255000"),
        row("UPLOAD", "2021-10-01"),  # after the IPO ended: the company's later life
    ]
    edgar.company(CIK, submissions(CIK, rows))

    sync(company)
    events = Event.objects.count()
    sync(company)

    process = Process.objects.get(organization=company)
    assert process.status == ProcessStatus.ABANDONED
    assert Filing.objects.filter(process=process).count() == 2
    assert Event.objects.filter(type=EventType.PROCESS_STATUS_CHANGED).count() == 1
    assert Event.objects.count() == events


def test_a_company_without_ipo_filings_gets_no_process(edgar, company):
    rows = [row("10-K", "2021-03-01"), row("UPLOAD", "2021-04-01"), row("424B4", "2021-05-01")]
    edgar.company(CIK, submissions(CIK, rows))

    outcome = sync(company)

    assert outcome.message == "No IPO filings found."
    assert not Process.objects.exists() and not Event.objects.exists()


def test_a_second_sync_of_the_same_data_records_no_event(edgar, company):
    edgar.with_etags = False  # EDGAR answers 200 again: the import itself must be idempotent
    edgar.company(CIK, submissions(CIK, list(ipo_rows().values())))
    sync(company)
    counts = (Event.objects.count(), Filing.objects.count(), IpoStep.objects.count())

    outcome = sync(company)

    assert outcome.status == "unchanged"
    assert (Event.objects.count(), Filing.objects.count(), IpoStep.objects.count()) == counts


def test_new_filings_are_added_to_the_same_process(edgar, company):
    rows = ipo_rows()
    before_effect = [rows[k] for k in ("drs", "s1", "s1a")]
    edgar.company(CIK, submissions(CIK, before_effect))
    sync(company)

    edgar.company(CIK, submissions(CIK, [*before_effect, rows["effect"]]))
    outcome = sync(company)

    assert outcome.result.advanced == ["Registration effective"]
    assert Process.objects.count() == 1
    effective = IpoStep.objects.get(step="registration_effective")
    assert list(effective.depends_on.values_list("ipostep__step", flat=True)) == [
        "public_registration_filed"
    ]


def test_page_files_are_read_when_the_ipo_is_older_and_never_again(edgar, company):
    rows = ipo_rows()
    old = [rows[k] for k in ("drs", "upload1", "s1", "effect", "424b4")]
    recent = [rows["10q"], rows["upload_10k"]]
    page = page_entry(CIK, 1, old)
    edgar.page(page["name"], arrays(old))
    edgar.company(CIK, submissions(CIK, recent, files=[page]))

    sync(company)
    assert edgar.paths().count(f"/submissions/{page['name']}") == 1
    assert IpoStep.objects.filter(step="priced").exists()
    assert EdgarSync.objects.get(organization=company).pages_read == [page["name"]]

    # The company files again: the document changes, the page file is not read again, and
    # the rules still see the IPO it held.
    events = Event.objects.count()
    edgar.company(CIK, submissions(CIK, [*recent, row("10-Q", "2021-11-10")], files=[page]))
    outcome = sync(company)

    assert outcome.status == "unchanged", outcome.message
    assert edgar.paths().count(f"/submissions/{page['name']}") == 1
    assert Event.objects.count() == events


def test_page_files_are_not_read_when_the_recent_filings_hold_the_draft(edgar, company):
    rows = ipo_rows()
    page = page_entry(CIK, 1, [row("10-K", "2019-03-01")])
    edgar.company(CIK, submissions(CIK, list(rows.values()), files=[page]))

    sync(company)

    assert edgar.paths() == [f"/submissions/CIK{CIK:010d}.json"]


def test_a_filing_dated_the_next_business_day_is_imported(edgar, company):
    # EDGAR dates a filing accepted after 17:30 New York time with the next business day.
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    rows = [
        row("S-1", "2021-05-03", file_number="333-255000"),
        row("S-1/A", tomorrow.isoformat(), file_number="333-255000"),
    ]
    edgar.company(CIK, submissions(CIK, rows))

    outcome = sync(company)

    assert outcome.status == "imported", outcome.message
    assert Filing.objects.get(form_type="S-1/A").actual_date == tomorrow


def test_editors_still_cannot_enter_an_actual_date_in_the_future(company):
    process = ProcessFactory(organization=company, kind=ProcessKind.IPO)
    with pytest.raises(ValidationError, match="cannot be in the future"):
        milestone_create(
            actor="editor",
            data={
                "process": process,
                "title": "Priced",
                "status": MilestoneStatus.COMPLETED,
                "actual_date": timezone.localdate() + datetime.timedelta(days=1),
            },
        )


def test_a_draft_that_appears_after_the_public_filing_comes_before_it(edgar, company):
    # EDGAR lists a confidential draft only once the S-1 is public, dated at its submission.
    s1 = row("S-1", "2021-05-03", file_number="333-255000")
    edgar.company(CIK, submissions(CIK, [s1]))
    sync(company)
    edgar.company(CIK, submissions(CIK, [row("DRS", "2021-01-11", file_number="377-1"), s1]))

    sync(company)

    public = IpoStep.objects.get(step="public_registration_filed")
    draft = IpoStep.objects.get(step="confidential_draft_submitted")
    assert list(public.depends_on.all()) == [draft.milestone_ptr]


def test_a_withdrawal_of_another_registration_abandons_nothing(edgar, company):
    rows = [
        row("S-1", "2021-05-03", file_number="333-255000"),
        row("RW", "2021-05-20", file_number="333-254999"),  # e.g. a shelf never used
    ]
    edgar.company(CIK, submissions(CIK, rows))

    outcome = sync(company)

    assert Process.objects.get(organization=company).status == ProcessStatus.ACTIVE
    assert not outcome.result.abandoned
