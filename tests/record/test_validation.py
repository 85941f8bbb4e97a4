import datetime

import pytest
from django.core.exceptions import ValidationError

from tests.factories import FilingFactory, MilestoneFactory, OrganizationFactory, ProcessFactory
from tracker.models import Event, Filing, Milestone, MilestoneKind, Organization
from tracker.services.milestones import milestone_create, milestone_update
from tracker.services.organizations import organization_create, organization_update

pytestmark = pytest.mark.django_db

TOMORROW = datetime.date.today() + datetime.timedelta(days=1)


def errors_of(call) -> dict:
    with pytest.raises(ValidationError) as error:
        call()
    return error.value.message_dict


def test_short_cik_is_zero_padded():
    organization = organization_create(actor="tests", data={"name": "Partner", "cik": "789019"})
    assert organization.cik == "0000789019"


@pytest.mark.parametrize("cik", ["12345678901", "12a45", "-1"])
def test_bad_cik_is_refused(cik):
    errors = errors_of(lambda: organization_create(actor="tests", data={"name": "X", "cik": cik}))
    assert "10 digits" in errors["cik"][0]
    assert not Organization.objects.exists()


def test_duplicate_cik_is_refused_even_when_padded_differently():
    organization_create(actor="tests", data={"name": "First", "cik": "0000001234"})
    errors = errors_of(
        lambda: organization_create(actor="tests", data={"name": "Second", "cik": "1234"})
    )
    assert "cik" in errors


def test_organizations_without_cik_do_not_collide():
    organization_create(actor="tests", data={"name": "A", "cik": ""})
    organization_create(actor="tests", data={"name": "B"})
    assert Organization.objects.filter(cik__isnull=True).count() == 2


def test_update_from_stale_copy_of_organization_is_refused():
    from tracker.services.errors import ConcurrentUpdateError

    organization = OrganizationFactory()
    organization_update(
        actor="tests", organization=organization, data={"ticker": "ABC"}, expected_version=1
    )
    with pytest.raises(ConcurrentUpdateError):
        organization_update(
            actor="tests", organization=organization, data={"ticker": "XYZ"}, expected_version=1
        )


@pytest.mark.parametrize("accession", ["123-45-678", "0001234567-2025-000123", "abc"])
def test_bad_sec_accession_number_is_refused(accession):
    process = ProcessFactory()
    errors = errors_of(
        lambda: milestone_create(
            actor="t",
            kind=MilestoneKind.FILING,
            data={"process": process, "title": "S-1", "accession_number": accession},
        )
    )
    assert "0001234567-25-000123" in errors["accession_number"][0]
    assert not Milestone.objects.exists()
    assert not Event.objects.exists()


def test_non_sec_reference_numbers_are_free_form():
    process = ProcessFactory()
    filing = milestone_create(
        actor="t",
        kind=MilestoneKind.FILING,
        data={
            "process": process,
            "title": "Certificate",
            "agency": "secretary_of_state",
            "accession_number": "DE-SR-20251028",
        },
    )
    assert filing.accession_number == "DE-SR-20251028"


def test_duplicate_accession_number_is_refused():
    FilingFactory(accession_number="0001234567-25-000123")
    process = ProcessFactory()
    errors = errors_of(
        lambda: milestone_create(
            actor="t",
            kind=MilestoneKind.FILING,
            data={"process": process, "title": "Dup", "accession_number": "0001234567-25-000123"},
        )
    )
    assert "accession number" in str(errors)
    assert Filing.objects.count() == 1


def test_filings_without_accession_number_may_repeat():
    FilingFactory(accession_number="")
    FilingFactory(accession_number="")
    assert Filing.objects.filter(accession_number="").count() == 2


@pytest.mark.parametrize("url", ["ftp://example.com/x", "javascript:alert(1)", "not a url"])
def test_source_url_must_be_http(url):
    process = ProcessFactory()
    errors = errors_of(
        lambda: milestone_create(
            actor="t", data={"process": process, "title": "T", "source_url": url}
        )
    )
    assert any("URL" in message for message in errors["source_url"])


def test_completed_milestone_needs_actual_date():
    milestone = MilestoneFactory()
    errors = errors_of(
        lambda: milestone_update(actor="t", milestone=milestone, data={"status": "completed"})
    )
    assert (
        "actual date" in errors["actual_date"][0].lower()
        or "date it happened" in errors["actual_date"][0]
    )
    milestone.refresh_from_db()
    assert milestone.status == "planned"
    assert not Event.objects.exists()


def test_actual_date_cannot_be_in_the_future():
    milestone = MilestoneFactory()
    errors = errors_of(
        lambda: milestone_update(actor="t", milestone=milestone, data={"actual_date": TOMORROW})
    )
    assert "future" in errors["actual_date"][0]


def test_database_refuses_completed_without_actual_date_too():
    from django.db import IntegrityError, transaction

    milestone = MilestoneFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Milestone.objects.filter(pk=milestone.pk).update(status="completed")


def test_milestone_cannot_depend_on_itself():
    milestone = MilestoneFactory()
    errors = errors_of(
        lambda: milestone_update(actor="t", milestone=milestone, data={}, depends_on=[milestone])
    )
    assert "itself" in errors["depends_on"][0]


def test_dependency_cycle_is_refused_and_nothing_is_saved():
    a = MilestoneFactory()
    b = MilestoneFactory(process=a.process)
    c = MilestoneFactory(process=a.process)
    milestone_update(actor="t", milestone=b, data={}, depends_on=[a])
    milestone_update(actor="t", milestone=c, data={}, depends_on=[b])
    events_before = Event.objects.count()

    errors = errors_of(
        lambda: milestone_update(actor="t", milestone=a, data={"title": "A2"}, depends_on=[c])
    )

    assert "cycle" in errors["depends_on"][0]
    a.refresh_from_db()
    assert a.title != "A2"
    assert list(a.depends_on.all()) == []
    assert Event.objects.count() == events_before


def test_ipo_price_range_must_be_ordered():
    process = ProcessFactory()
    errors = errors_of(
        lambda: milestone_create(
            actor="t",
            kind=MilestoneKind.IPO_STEP,
            data={
                "process": process,
                "title": "Roadshow",
                "step": "roadshow_launched",
                "price_range_low": 50,
                "price_range_high": 40,
            },
        )
    )
    assert "price range" in str(errors)


def test_unknown_choice_is_refused():
    process = ProcessFactory()
    errors = errors_of(
        lambda: milestone_create(
            actor="t", data={"process": process, "title": "T", "status": "maybe"}
        )
    )
    assert "status" in errors


def test_unknown_kind_is_refused():
    errors = errors_of(lambda: milestone_create(actor="t", kind="rumour", data={"title": "T"}))
    assert "kind" in errors


def test_organization_delete_refuses_stale_version_and_live_processes():
    from tracker.services.errors import ConcurrentUpdateError
    from tracker.services.organizations import organization_delete

    organization = OrganizationFactory()
    organization_update(actor="tests", organization=organization, data={"ticker": "ABC"})
    with pytest.raises(ConcurrentUpdateError):
        organization_delete(actor="tests", organization=organization, expected_version=1)
    ProcessFactory(organization=organization)
    with pytest.raises(ValidationError, match="still has processes"):
        organization_delete(actor="tests", organization=organization, expected_version=2)
    assert Organization.objects.filter(pk=organization.pk).exists()


@pytest.mark.parametrize("field", ["target_date", "actual_date"])
def test_dates_beyond_the_sane_range_are_refused(field):
    milestone = MilestoneFactory()
    errors = errors_of(
        lambda: milestone_update(
            actor="t", milestone=milestone, data={field: datetime.date(9999, 12, 31)}
        )
    )
    assert "between 1900-01-01 and 2199-12-31" in errors[field][0]


def test_non_ascii_digits_are_not_an_accession_number():
    process = ProcessFactory()
    errors = errors_of(
        lambda: milestone_create(
            actor="t",
            kind=MilestoneKind.FILING,
            data={
                "process": process,
                "title": "S-1",
                "accession_number": "\uff10\uff10\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17"
                "-\uff12\uff15-\uff10\uff10\uff10\uff11\uff12\uff13",
            },
        )
    )
    assert "accession_number" in errors


def test_non_ascii_digits_are_not_a_cik():
    errors = errors_of(
        lambda: organization_create(actor="tests", data={"name": "X", "cik": "\u0661\u0662\u0663"})
    )
    assert "cik" in errors
