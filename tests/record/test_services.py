import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone

from tests.factories import FilingFactory, MilestoneFactory, ProcessFactory, UserFactory
from tracker.models import Event, EventType, Milestone, MilestoneKind, Process
from tracker.services import events as event_service
from tracker.services.errors import ConcurrentUpdateError
from tracker.services.milestones import milestone_create, milestone_delete, milestone_update
from tracker.services.processes import process_create, process_delete, process_update
from tracker.snapshots import event_payload

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
# Later than today: a fixed date would pass one day and put the milestone at risk.
FIRST, SECOND = TODAY + datetime.timedelta(days=400), TODAY + datetime.timedelta(days=450)


def event_types():
    return list(Event.objects.order_by("id").values_list("type", flat=True))


def test_create_writes_one_created_event_with_actor_and_snapshot():
    user = UserFactory(username="analyst", first_name="Ada", last_name="Byron")
    process = ProcessFactory()

    filing = milestone_create(
        actor=user,
        kind=MilestoneKind.FILING,
        data={"process": process, "title": "S-1", "form_type": "S-1", "target_date": TODAY},
    )

    event = Event.objects.get()
    assert event.type == EventType.MILESTONE_CREATED
    # Public payloads name the editor, not their login or address.
    assert (event.actor, event.actor_name) == (user, "Ada Byron")
    assert (event.organization_id, event.process_id, event.milestone_id) == (
        process.organization_id,
        process.pk,
        filing.pk,
    )
    assert event.snapshot["milestone"]["form_type"] == "S-1"
    assert event.snapshot["milestone"]["target_date"] == TODAY.isoformat()
    assert event.snapshot["organization"]["slug"] == process.organization.slug
    assert event.changes == {}


def test_update_records_changed_fields_as_old_and_new():
    milestone = MilestoneFactory(title="Board vote")

    milestone_update(actor="importer:test", milestone=milestone, data={"title": "Board approval"})

    event = Event.objects.get()
    assert event.type == EventType.MILESTONE_UPDATED
    assert event.changes == {"title": ["Board vote", "Board approval"]}
    assert (event.actor, event.actor_name) == (None, "importer:test")
    assert event.snapshot["milestone"]["title"] == "Board approval"
    assert event.snapshot["milestone"]["version"] == 2


def test_completing_is_one_status_changed_event_with_its_actual_date():
    milestone = MilestoneFactory(status="planned", target_date=TODAY)

    milestone_update(
        actor="test", milestone=milestone, data={"status": "completed", "actual_date": TODAY}
    )

    event = Event.objects.get()
    assert event.type == EventType.MILESTONE_STATUS_CHANGED
    assert event.changes == {
        "status": ["planned", "completed"],
        "actual_date": [None, TODAY.isoformat()],
    }


def test_a_slip_is_both_a_status_change_and_a_date_change():
    milestone = MilestoneFactory(status="planned", target_date=FIRST)

    milestone_update(
        actor="test",
        milestone=milestone,
        data={"status": "delayed", "target_date": SECOND, "notes": "Slipped"},
    )

    assert [(e.type, e.changes) for e in Event.objects.order_by("id")] == [
        (EventType.MILESTONE_STATUS_CHANGED, {"status": ["planned", "delayed"]}),
        (
            EventType.MILESTONE_DATE_CHANGED,
            {"target_date": [FIRST.isoformat(), SECOND.isoformat()]},
        ),
        (EventType.MILESTONE_UPDATED, {"notes": ["", "Slipped"]}),
    ]
    # Every event of the save shows the milestone as it stood after the whole save.
    assert {e.snapshot["milestone"]["version"] for e in Event.objects.all()} == {2}


def test_target_date_move_is_a_date_changed_event():
    milestone = MilestoneFactory(target_date=FIRST)

    milestone_update(actor="test", milestone=milestone, data={"target_date": SECOND})

    event = Event.objects.get()
    assert event.type == EventType.MILESTONE_DATE_CHANGED
    assert event.changes == {"target_date": [FIRST.isoformat(), SECOND.isoformat()]}


def test_typed_field_change_is_recorded():
    filing = FilingFactory(form_type="S-1")

    milestone_update(actor="test", milestone=filing, data={"form_type": "S-1/A"})

    assert Event.objects.get().changes == {"form_type": ["S-1", "S-1/A"]}


def test_dependency_change_is_recorded():
    first = MilestoneFactory()
    second = MilestoneFactory(process=first.process)

    milestone_update(actor="test", milestone=second, data={}, depends_on=[first])

    assert Event.objects.get().changes == {"depends_on": [[], [first.pk]]}
    assert list(second.depends_on.all()) == [first]


def test_save_that_changes_nothing_writes_no_event_and_keeps_the_version():
    milestone = MilestoneFactory(title="Same", status="planned")

    saved = milestone_update(
        actor="test",
        milestone=milestone,
        data={"title": "Same", "status": "planned"},
        depends_on=[],
    )

    assert Event.objects.count() == 0
    assert saved.version == 1


def test_deleting_a_dependency_records_the_lost_link_on_its_dependents():
    first = MilestoneFactory()
    second = MilestoneFactory(process=first.process)
    milestone_update(actor="t", milestone=second, data={}, depends_on=[first])

    milestone_delete(actor="t", milestone=first)

    second.refresh_from_db()
    assert list(second.depends_on.all()) == []
    assert second.version == 3
    event = Event.objects.filter(milestone=second).last()
    assert (event.type, event.changes) == (
        EventType.MILESTONE_UPDATED,
        {"depends_on": [[first.pk], []]},
    )


def test_delete_writes_deleted_event_that_outlives_the_row():
    milestone = MilestoneFactory(title="Gone")
    milestone_id = milestone.pk

    milestone_delete(actor="test", milestone=milestone)

    assert not Milestone.objects.filter(pk=milestone_id).exists()
    event = Event.objects.get()
    assert event.type == EventType.MILESTONE_DELETED
    assert event.milestone_id == milestone_id
    assert event_payload(event)["milestone"]["title"] == "Gone"


def test_failure_mid_transaction_leaves_neither_row_nor_event(monkeypatch):
    process = ProcessFactory()

    def broken_events_record(events):
        raise IntegrityError("simulated failure while appending the event")

    monkeypatch.setattr("tracker.services.milestones.events_record", broken_events_record)
    with pytest.raises(IntegrityError):
        milestone_create(actor="test", data={"process": process, "title": "Half-written"})

    assert not Milestone.objects.filter(title="Half-written").exists()
    assert Event.objects.count() == 0


def test_failed_update_leaves_row_and_log_unchanged(monkeypatch):
    milestone = MilestoneFactory(title="Before")
    monkeypatch.setattr(
        "tracker.services.milestones.events_record",
        lambda events: (_ for _ in ()).throw(IntegrityError("boom")),
    )

    with pytest.raises(IntegrityError):
        milestone_update(actor="test", milestone=milestone, data={"title": "After"})

    milestone.refresh_from_db()
    assert (milestone.title, milestone.version) == ("Before", 1)
    assert Event.objects.count() == 0


def test_stale_version_is_refused_and_changes_nothing():
    milestone = MilestoneFactory(title="Original")
    editor_a = Milestone.objects.get(pk=milestone.pk)
    editor_b = Milestone.objects.get(pk=milestone.pk)

    milestone_update(actor="a", milestone=editor_a, data={"title": "A's title"}, expected_version=1)
    with pytest.raises(ConcurrentUpdateError, match="changed by someone else"):
        milestone_update(
            actor="b", milestone=editor_b, data={"title": "B's title"}, expected_version=1
        )

    milestone.refresh_from_db()
    assert (milestone.title, milestone.version) == ("A's title", 2)
    assert event_types() == [EventType.MILESTONE_UPDATED]


def test_stale_version_refuses_delete():
    milestone = MilestoneFactory()
    milestone_update(actor="a", milestone=milestone, data={"title": "Moved on"})

    with pytest.raises(ConcurrentUpdateError):
        milestone_delete(actor="b", milestone=milestone, expected_version=1)
    assert Milestone.objects.filter(pk=milestone.pk).exists()


def test_unknown_or_protected_fields_are_refused():
    milestone = MilestoneFactory()

    with pytest.raises(ValidationError) as error:
        milestone_update(actor="t", milestone=milestone, data={"version": 9, "colour": "red"})

    assert set(error.value.message_dict) == {"version", "colour"}


def test_system_actor_needs_a_name():
    with pytest.raises(ValueError):
        event_service.actor_fields("")


def test_process_events():
    organization = ProcessFactory().organization
    process = process_create(
        actor="test", data={"organization": organization, "kind": "ipo", "title": "IPO"}
    )
    process_update(actor="test", process=process, data={"summary": "Planned listing"})
    process_update(actor="test", process=process, data={"status": "abandoned"})
    process_update(actor="test", process=process, data={"status": "abandoned"})  # no-op

    assert event_types() == [
        EventType.PROCESS_CREATED,
        EventType.PROCESS_UPDATED,
        EventType.PROCESS_STATUS_CHANGED,
    ]
    assert Event.objects.last().changes == {"status": ["active", "abandoned"]}
    assert process.slug == "ipo"


def test_process_delete_deletes_milestones_with_their_events():
    process = ProcessFactory()
    MilestoneFactory.create_batch(2, process=process)

    process_delete(actor="test", process=process)

    assert not Process.objects.filter(pk=process.pk).exists()
    assert event_types() == [
        EventType.MILESTONE_DELETED,
        EventType.MILESTONE_DELETED,
        EventType.PROCESS_DELETED,
    ]


@pytest.mark.django_db(transaction=True)
def test_event_record_refuses_to_run_outside_a_transaction():
    process = ProcessFactory()

    with pytest.raises(RuntimeError, match="inside the transaction"):
        event_service.event_record(
            type=EventType.PROCESS_UPDATED, actor="t", process=process, snapshot={}
        )
    assert Event.objects.count() == 0


def test_new_milestones_go_to_the_end_of_their_process():
    process = ProcessFactory()
    MilestoneFactory(process=process, position=4)

    created = milestone_create(actor="t", data={"process": process, "title": "Next"})

    assert created.position == 5


def test_a_milestone_after_one_at_the_last_position_shares_it_instead_of_overflowing():
    from tracker.models.milestones import MAX_POSITION

    process = ProcessFactory()
    milestone_create(
        actor="tests", data={"process": process, "title": "Last", "position": MAX_POSITION}
    )

    after = milestone_create(actor="tests", data={"process": process, "title": "After"})

    assert after.position == MAX_POSITION
