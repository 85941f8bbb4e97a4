"""A company's IPO attempts (review findings 1-3): only the latest is imported, a priced IPO
is never undone by a later withdrawal, and an effective IPO that is never priced ends."""

import datetime

import pytest
from django.utils import timezone

from tests.factories import IpoStepFactory, ProcessFactory
from tracker.models import (
    EdgarSync,
    Filing,
    IpoStep,
    MilestoneStatus,
    Process,
    ProcessKind,
    ProcessStatus,
)

from .edgar_data import CIK, row, submissions
from .helpers import sync

pytestmark = pytest.mark.django_db

D = datetime.date.fromisoformat


def step_dates(process) -> dict[str, list[datetime.date]]:
    found: dict[str, list[datetime.date]] = {}
    for step in IpoStep.objects.filter(process=process).order_by("actual_date", "id"):
        found.setdefault(step.step, []).append(step.actual_date)
    return found


def withdrawn_2015() -> list[dict]:
    return [
        row("S-1", "2015-03-02", file_number="333-100000"),
        row("UPLOAD", "2015-03-30"),
        row("RW", "2016-01-11", file_number="333-100000"),
    ]


def refiled_2021() -> list[dict]:
    return [
        row("S-1", "2021-05-03", file_number="333-255000"),
        row("UPLOAD", "2021-05-28"),
        row("EFFECT", "2021-06-16", file_number="333-255000"),
        row("424B4", "2021-06-18", file_number="333-255000"),
    ]


def test_a_refiled_ipo_is_imported_and_the_withdrawn_attempt_is_not(edgar, company):
    edgar.company(CIK, submissions(CIK, withdrawn_2015() + refiled_2021()))

    outcome = sync(company)

    process = Process.objects.get(organization=company)
    assert process.status == ProcessStatus.ACTIVE, outcome.message
    assert sorted(Filing.objects.filter(process=process).values_list("form_type", flat=True)) == [
        "424B4", "EFFECT", "S-1", "UPLOAD",
    ]  # fmt: skip
    assert step_dates(process) == {
        "public_registration_filed": [D("2021-05-03")],
        "sec_comment_round": [D("2021-05-28")],
        "registration_effective": [D("2021-06-16")],
        "priced": [D("2021-06-18")],
    }


def test_a_refiling_after_a_withdrawal_gets_a_process_of_its_own(edgar, company):
    edgar.company(CIK, submissions(CIK, withdrawn_2015()))
    sync(company)
    first = Process.objects.get(organization=company)
    assert first.status == ProcessStatus.ABANDONED

    edgar.company(CIK, submissions(CIK, withdrawn_2015() + refiled_2021()))
    sync(company)

    first.refresh_from_db()
    assert first.status == ProcessStatus.ABANDONED
    assert Filing.objects.filter(process=first).count() == 3  # untouched
    second = Process.objects.exclude(pk=first.pk).get(organization=company)
    assert (second.slug, second.status) == ("ipo-2", ProcessStatus.ACTIVE)
    assert step_dates(second)["public_registration_filed"] == [D("2021-05-03")]
    assert Filing.objects.filter(process=second).count() == 4


def test_an_old_ipo_never_completes_the_steps_of_a_second_ipo_being_planned(edgar, company):
    old_ipo = [
        row("S-1", "2010-03-01", file_number="333-160000"),
        row("EFFECT", "2010-05-10", file_number="333-160000"),
        row("424B4", "2010-05-12", file_number="333-160000"),
        row("15-12B", "2016-09-01", file_number="001-34000"),  # taken private
    ]
    plan = ProcessFactory(organization=company, kind=ProcessKind.IPO, title="IPO 2026")
    target = timezone.localdate() + datetime.timedelta(days=60)
    planned = IpoStepFactory(
        process=plan, step="public_registration_filed", status=MilestoneStatus.PLANNED,
        target_date=target,
    )  # fmt: skip
    edgar.company(CIK, submissions(CIK, old_ipo))

    outcome = sync(company)

    planned.refresh_from_db()
    assert (planned.status, planned.actual_date) == (MilestoneStatus.PLANNED, None)
    assert not Filing.objects.exists()
    assert "not imported" in outcome.message
    assert "not imported" in EdgarSync.objects.get(organization=company).summary

    # The second IPO's public filing does complete it.
    filed = timezone.localdate() - datetime.timedelta(days=3)
    second = row("S-1", filed.isoformat(), file_number="333-290000")
    edgar.company(CIK, submissions(CIK, [*old_ipo, second]))
    sync(company)

    planned.refresh_from_db()
    assert (planned.status, planned.actual_date, planned.target_date) == (
        MilestoneStatus.COMPLETED,
        filed,
        target,
    )
    assert list(Filing.objects.values_list("accession_number", flat=True)) == [
        second["accessionNumber"]
    ]


def test_a_withdrawal_after_pricing_leaves_the_finished_ipo_alone(edgar, company):
    rows = [
        *refiled_2021(),
        row("UPLOAD", "2022-02-01"),  # a staff letter about the first 10-K
        row("CORRESP", "2022-02-10"),
        row("RW", "2023-01-10", file_number="333-255000"),
    ]
    edgar.company(CIK, submissions(CIK, rows))

    outcome = sync(company)

    process = Process.objects.get(organization=company)
    assert process.status == ProcessStatus.ACTIVE and not outcome.result.abandoned
    forms = sorted(Filing.objects.values_list("form_type", flat=True))
    assert forms == ["424B4", "EFFECT", "S-1", "UPLOAD"]  # the 2021 letter only
    assert step_dates(process)["sec_comment_round"] == [D("2021-05-28")]


def test_an_effective_ipo_that_is_never_priced_ends_a_month_after_effectiveness(edgar, company):
    rows = [
        row("S-1", "2021-05-03", file_number="333-255000"),
        row("8-A12B", "2021-06-10", file_number="001-40500"),
        row("CERTNYS", "2021-06-14", file_number="001-40500"),
        row("EFFECT", "2021-06-16", file_number="333-255000"),
        row("UPLOAD", "2023-02-01"),
        row("CORRESP", "2023-02-10"),
        row("424B4", "2024-02-01", file_number="333-255000"),  # a resale prospectus
        row("CERTNAS", "2025-01-02", file_number="001-40500"),  # an exchange transfer
    ]
    edgar.company(CIK, submissions(CIK, rows))

    sync(company)

    process = Process.objects.get(organization=company)
    assert sorted(Filing.objects.values_list("form_type", flat=True)) == [
        "8-A12B", "CERTNYS", "EFFECT", "S-1",
    ]  # fmt: skip
    assert step_dates(process) == {
        "public_registration_filed": [D("2021-05-03")],
        "listing_registered": [D("2021-06-10")],
        "exchange_certified": [D("2021-06-14")],
        "registration_effective": [D("2021-06-16")],
    }


def test_a_public_companys_follow_on_registration_is_not_another_ipo(edgar, company):
    rows = [
        *refiled_2021(),
        row("S-1", "2022-08-01", file_number="333-266000"),  # a resale registration
        row("UPLOAD", "2022-08-20"),
        row("EFFECT", "2022-09-01", file_number="333-266000"),
        row("424B4", "2023-03-01", file_number="333-270000"),  # a follow-on's prospectus
    ]
    edgar.company(CIK, submissions(CIK, rows))

    sync(company)

    process = Process.objects.get(organization=company)  # no second "IPO"
    assert Filing.objects.count() == 4
    assert step_dates(process) == {
        "public_registration_filed": [D("2021-05-03")],
        "sec_comment_round": [D("2021-05-28")],
        "registration_effective": [D("2021-06-16")],
        "priced": [D("2021-06-18")],
    }
