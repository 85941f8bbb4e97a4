import datetime

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from tests.factories import FilingFactory, MilestoneFactory, ProcessFactory, UserFactory
from tracker.models import Event, EventType, Filing, Milestone
from tracker.permissions import EDITORS_GROUP
from tracker.services.milestones import milestone_update

pytestmark = pytest.mark.django_db

# Future dates relative to today: a fixed date would pass one day and put the milestone at
# risk (one more event than the tests expect).
TARGET = timezone.localdate() + datetime.timedelta(days=400)

NO_HISTORY_FORMS = {
    "events-TOTAL_FORMS": "0",
    "events-INITIAL_FORMS": "0",
    "dependency_links-TOTAL_FORMS": "0",
    "dependency_links-INITIAL_FORMS": "0",
}


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def milestone_post(milestone_or_process, **overrides):
    process = getattr(milestone_or_process, "process", milestone_or_process)
    data = {
        "process": process.pk,
        "title": "Board approval",
        "status": "planned",
        "target_date": TARGET.isoformat(),
        "actual_date": "",
        "position": "1",
        "source_url": "",
        "notes": "",
        **NO_HISTORY_FORMS,
    }
    data.update(overrides)
    return data


def test_editors_group_has_record_permissions_only():
    group = Group.objects.get(name=EDITORS_GROUP)
    codenames = set(group.permissions.values_list("codename", flat=True))
    assert {"add_filing", "change_milestone", "delete_process", "view_event"} <= codenames
    assert "change_event" not in codenames
    assert not any(name.endswith("_user") for name in codenames)


def test_editor_can_add_generic_milestone_and_it_writes_an_event(editor_client, editor):
    process = ProcessFactory()

    response = editor_client.post(reverse("admin:tracker_milestone_add"), milestone_post(process))

    assert response.status_code == 302, response.content.decode()[:2000]
    milestone = Milestone.objects.get(title="Board approval")
    event = Event.objects.get()
    assert (event.type, event.milestone_id, event.actor) == (
        EventType.MILESTONE_CREATED,
        milestone.pk,
        editor,
    )


def test_editor_changes_a_filing_and_the_event_lists_the_change(editor_client):
    filing = FilingFactory(form_type="S-1", accession_number="0001234567-25-000001")
    data = milestone_post(
        filing,
        title=filing.title,
        target_date=filing.target_date.isoformat(),
        position=str(filing.position),
        agency="sec",
        form_type="S-1/A",
        accession_number=filing.accession_number,
        filed_on="",
        document_url="",
        loaded_version="1",
    )

    response = editor_client.post(reverse("admin:tracker_filing_change", args=[filing.pk]), data)

    assert response.status_code == 302, response.content.decode()[:2000]
    event = Event.objects.get()
    assert event.type == EventType.MILESTONE_UPDATED
    assert event.changes == {"form_type": ["S-1", "S-1/A"]}


def test_save_from_a_stale_page_is_refused_with_a_form_error(editor_client):
    milestone = MilestoneFactory(title="Original")
    milestone_update(actor="someone else", milestone=milestone, data={"title": "Theirs"})
    data = milestone_post(
        milestone,
        title="Mine",
        target_date=milestone.target_date.isoformat(),
        loaded_version="1",
    )

    response = editor_client.post(
        reverse("admin:tracker_milestone_change", args=[milestone.pk]), data
    )

    assert response.status_code == 200
    assert "Someone else saved this milestone" in response.content.decode()
    milestone.refresh_from_db()
    assert milestone.title == "Theirs"
    assert Event.objects.count() == 1


def test_bad_accession_number_is_a_form_error_and_nothing_is_saved(editor_client):
    process = ProcessFactory()
    data = milestone_post(
        process,
        title="S-1",
        agency="sec",
        form_type="S-1",
        accession_number="12-34",
        filed_on="",
        document_url="",
    )

    response = editor_client.post(reverse("admin:tracker_filing_add"), data)

    assert response.status_code == 200
    assert "0001234567-25-000123" in response.content.decode()
    assert not Filing.objects.exists()
    assert not Event.objects.exists()


def test_dependency_cycle_is_a_form_error(editor_client):
    first = MilestoneFactory()
    second = MilestoneFactory(process=first.process)
    milestone_update(actor="t", milestone=second, data={}, depends_on=[first])
    data = milestone_post(
        first,
        title=first.title,
        target_date=first.target_date.isoformat(),
        position=str(first.position),
        loaded_version="1",
        **{
            "dependency_links-TOTAL_FORMS": "1",
            "dependency_links-0-depends_on": str(second.pk),
            "dependency_links-0-min_gap_days": "3",
        },
    )

    response = editor_client.post(reverse("admin:tracker_milestone_change", args=[first.pk]), data)

    assert response.status_code == 200
    assert "cycle" in response.content.decode()
    assert list(first.depends_on.all()) == []


def test_process_page_adds_milestones_inline_through_the_services(editor_client):
    process = ProcessFactory(title="IPO", slug="ipo", kind="ipo")
    data = {
        "organization": process.organization_id,
        "kind": "ipo",
        "title": "IPO",
        "slug": "ipo",
        "status": "active",
        "summary": "",
        "loaded_version": "1",
        "milestones-TOTAL_FORMS": "1",
        "milestones-INITIAL_FORMS": "0",
        "milestones-0-position": "1",
        "milestones-0-title": "Roadshow",
        "milestones-0-status": "planned",
        "milestones-0-target_date": (TARGET + datetime.timedelta(days=50)).isoformat(),
        "milestones-0-actual_date": "",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    }

    response = editor_client.post(reverse("admin:tracker_process_change", args=[process.pk]), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    milestone = Milestone.objects.get(process=process, title="Roadshow")
    assert milestone.target_date == TARGET + datetime.timedelta(days=50)
    assert list(Event.objects.values_list("type", flat=True)) == [EventType.MILESTONE_CREATED]


def test_milestone_page_shows_its_event_history(editor_client):
    milestone = MilestoneFactory(title="Vote")
    milestone_update(actor="analyst-bot", milestone=milestone, data={"title": "Board vote"})

    response = editor_client.get(reverse("admin:tracker_milestone_change", args=[milestone.pk]))

    page = response.content.decode()
    assert "history (event log)" in page.lower()
    assert "analyst-bot" in page
    assert "milestone.updated" in page
    assert "Board vote" in page


def test_typed_milestone_opens_on_its_typed_page(editor_client):
    filing = FilingFactory()
    response = editor_client.get(reverse("admin:tracker_milestone_change", args=[filing.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:tracker_filing_change", args=[filing.pk])


def test_delete_through_admin_writes_deleted_event(editor_client):
    milestone = MilestoneFactory()

    response = editor_client.post(
        reverse("admin:tracker_milestone_delete", args=[milestone.pk]), {"post": "yes"}
    )

    assert response.status_code == 302
    assert list(Event.objects.values_list("type", flat=True)) == [EventType.MILESTONE_DELETED]


@pytest.mark.parametrize(
    "query",
    [
        "?q=S-1",
        "?q=0001234567-25",
        "?status__exact=planned",
        "?kind__exact=filing",
        "?target_date__gte=2020-01-01",
    ],
)
def test_milestone_list_filters_and_search(editor_client, query):
    FilingFactory(form_type="S-1")
    MilestoneFactory()

    response = editor_client.get(reverse("admin:tracker_milestone_changelist") + query)

    assert response.status_code == 200


def test_search_finds_filing_by_accession_number(editor_client):
    FilingFactory(title="Needle", accession_number="0009999999-25-000777")
    FilingFactory(title="Haystack")

    response = editor_client.get(reverse("admin:tracker_filing_changelist") + "?q=000777")

    assert "Needle" in response.content.decode()
    assert "Haystack" not in response.content.decode()


def test_event_log_is_read_only_in_admin(editor_client):
    MilestoneFactory()
    assert editor_client.get(reverse("admin:tracker_event_changelist")).status_code == 200
    assert editor_client.get(reverse("admin:tracker_event_add")).status_code == 403


def test_user_outside_editors_cannot_edit(client):
    client.force_login(UserFactory(is_staff=True))
    response = client.get(reverse("admin:tracker_milestone_add"))
    assert response.status_code == 403


def test_admin_deletes_a_process_with_its_milestones_and_their_events(editor_client):
    process = ProcessFactory()
    MilestoneFactory.create_batch(2, process=process)
    url = reverse("admin:tracker_process_delete", args=[process.pk])

    confirm = editor_client.get(url)
    assert "Cannot delete" not in confirm.content.decode()
    response = editor_client.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert not Milestone.objects.filter(process_id=process.pk).exists()
    assert list(Event.objects.values_list("type", flat=True)) == [
        EventType.MILESTONE_DELETED,
        EventType.MILESTONE_DELETED,
        EventType.PROCESS_DELETED,
    ]


def test_milestone_added_without_position_goes_to_the_end(editor_client):
    existing = MilestoneFactory(position=7)

    response = editor_client.post(
        reverse("admin:tracker_milestone_add"), milestone_post(existing, position="")
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert Milestone.objects.get(title="Board approval").position == 8
