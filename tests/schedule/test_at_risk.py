"""At risk and back on track: the state, its reason in words, and one event per cause."""

import pytest
import time_machine

from tests.factories import ProcessFactory
from tracker.alerts.reminders import reminders_scan
from tracker.models import Event, EventType, Milestone, MilestoneStatus, ProcessStatus
from tracker.services.milestones import milestone_update

from .conftest import day

pytestmark = pytest.mark.django_db


def risk_events(milestone=None):
    events = Event.objects.filter(
        type__in=[EventType.MILESTONE_AT_RISK, EventType.MILESTONE_BACK_ON_TRACK]
    )
    if milestone is not None:
        events = events.filter(milestone_id=milestone.pk)
    return list(events.order_by("id"))


def test_a_slipped_dependency_puts_its_dependent_at_risk_with_the_reason(make, editor):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 25, after=[(filing, 15)])
    milestone_update(
        actor=editor,
        milestone=filing,
        data={"status": MilestoneStatus.DELAYED, "target_date": day(20)},
    )

    roadshow.refresh_from_db()
    assert roadshow.at_risk
    assert roadshow.at_risk_reason == (
        f"Public filing slipped to {day(20)}; Roadshow needs 15 days after it "
        f"(forecast {day(35)}, target {day(25)})"
    )
    [event] = risk_events()
    assert event.type == EventType.MILESTONE_AT_RISK
    assert event.milestone_id == roadshow.pk
    assert event.actor_id == editor.pk
    assert event.changes["at_risk"] == [False, True]
    assert event.snapshot["milestone"]["at_risk_reason"] == roadshow.at_risk_reason
    assert event.snapshot["milestone"]["forecast_date"] == day(35).isoformat()
    # The cause comes first in the log, then its effect.
    date_changed = Event.objects.get(type=EventType.MILESTONE_DATE_CHANGED)
    assert Event.objects.get(type=EventType.MILESTONE_STATUS_CHANGED).pk < event.pk
    assert date_changed.pk < event.pk
    assert date_changed.snapshot["milestone"]["forecast_date"] == day(20).isoformat()


def test_the_same_cause_never_alerts_twice(make, editor):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 25, after=[(filing, 15)])
    milestone_update(actor=editor, milestone=filing, data={"target_date": day(20)})
    # Changes that do not move the cause: an edit upstream, an edit of the milestone itself.
    milestone_update(actor=editor, milestone=filing, data={"notes": "Printer delayed."})
    milestone_update(actor=editor, milestone=filing, data={"status": MilestoneStatus.DELAYED})
    milestone_update(actor=editor, milestone=roadshow, data={"title": "Roadshow"})
    reminders_scan(today=day(0))
    assert [e.type for e in risk_events()] == [EventType.MILESTONE_AT_RISK]


def test_a_new_cause_alerts_again_and_recovery_alerts_once(make, editor):
    filing = make("Public filing", 10)
    approval = make("Board approval", 5)
    roadshow = make("Roadshow", 25, after=[(filing, 15), (approval, 10)])
    milestone_update(actor=editor, milestone=filing, data={"target_date": day(20)})
    # Another dependency decides: a new cause. Then the filing decides again: new again.
    milestone_update(actor=editor, milestone=approval, data={"target_date": day(40)})
    milestone_update(actor=editor, milestone=approval, data={"target_date": day(5)})
    milestone_update(actor=editor, milestone=filing, data={"target_date": day(5)})
    milestone_update(actor=editor, milestone=filing, data={"target_date": day(8)})
    # Late again after recovering, because of the same dependency: alerts again.
    milestone_update(actor=editor, milestone=filing, data={"target_date": day(30)})

    events = risk_events(roadshow)
    assert [e.type for e in events] == [
        EventType.MILESTONE_AT_RISK,
        EventType.MILESTONE_AT_RISK,
        EventType.MILESTONE_AT_RISK,
        EventType.MILESTONE_BACK_ON_TRACK,
        EventType.MILESTONE_AT_RISK,
    ]
    reasons = [e.snapshot["milestone"]["at_risk_reason"] for e in events]
    assert reasons[1].startswith(f"Board approval is due on {day(40)}")
    assert reasons[2].startswith(f"Public filing is due on {day(20)}")
    assert reasons[4].startswith(f"Public filing is due on {day(30)}")
    assert events[3].changes["at_risk"] == [True, False]
    assert Milestone.objects.get(pk=roadshow.pk).at_risk


def test_a_further_slip_of_the_same_dependency_rewords_the_reason_silently(make, editor):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 25, after=[(filing, 15)])
    pricing = make("Pricing", 30, after=[(roadshow, 5)])
    milestone_update(actor=editor, milestone=filing, data={"target_date": day(20)})
    assert len(risk_events()) == 2  # the roadshow and the pricing

    milestone_update(actor=editor, milestone=filing, data={"target_date": day(30)})

    assert len(risk_events()) == 2
    roadshow.refresh_from_db()
    assert roadshow.at_risk
    assert roadshow.at_risk_reason == (
        f"Public filing is due on {day(30)}; Roadshow needs 15 days after it "
        f"(forecast {day(45)}, target {day(25)})"
    )
    assert Milestone.objects.get(pk=pricing.pk).forecast_date == day(50)
    # The filing's own event tells subscribers the new date.
    moved = Event.objects.filter(type=EventType.MILESTONE_DATE_CHANGED, milestone_id=filing.pk)
    assert moved.last().changes == {"target_date": [day(20).isoformat(), day(30).isoformat()]}


def test_a_passed_target_moved_to_another_passed_date_stays_at_risk_silently(make, editor):
    signing = make("Agreement signed", 3)
    reminders_scan(today=day(10))
    with time_machine.travel(day(10)):
        milestone_update(actor=editor, milestone=signing, data={"target_date": day(5)})
    signing.refresh_from_db()
    assert signing.at_risk_reason == f"target date {day(5)} has passed"
    assert [e.type for e in risk_events()] == [EventType.MILESTONE_AT_RISK]


def test_completing_or_cancelling_takes_a_milestone_off_the_risk_list(make, editor):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 25, after=[(filing, 15)])
    pricing = make("Pricing", 30, after=[(filing, 15)])
    milestone_update(actor=editor, milestone=filing, data={"target_date": day(20)})
    milestone_update(actor=editor, milestone=roadshow, data={"status": MilestoneStatus.CANCELLED})
    milestone_update(
        actor=editor,
        milestone=pricing,
        data={"status": MilestoneStatus.COMPLETED, "actual_date": day(0)},
    )
    assert not Milestone.objects.filter(at_risk=True).exists()
    assert [e.type for e in risk_events(roadshow)] == [
        EventType.MILESTONE_AT_RISK,
        EventType.MILESTONE_BACK_ON_TRACK,
    ]


def test_a_passed_target_date_is_marked_by_the_hourly_scan_once(make, editor):
    signing = make("Agreement signed", 3)
    assert not signing.at_risk

    reminders_scan(today=day(4))
    reminders_scan(today=day(5))

    signing.refresh_from_db()
    assert signing.at_risk
    assert signing.at_risk_reason == f"target date {day(3)} has passed"
    [event] = risk_events()
    assert (event.type, event.actor_name) == (EventType.MILESTONE_AT_RISK, "scheduler")

    milestone_update(actor=editor, milestone=signing, data={"target_date": day(30)})
    assert [e.type for e in risk_events()] == [
        EventType.MILESTONE_AT_RISK,
        EventType.MILESTONE_BACK_ON_TRACK,
    ]


def test_a_milestone_created_late_is_at_risk_from_the_start(make):
    filing = make("Public filing", 20)
    roadshow = make("Roadshow", 25, after=[(filing, 15)])
    assert roadshow.at_risk
    [event] = risk_events()
    created = Event.objects.get(type=EventType.MILESTONE_CREATED, milestone_id=roadshow.pk)
    assert created.pk < event.pk
    assert created.snapshot["milestone"]["at_risk"] is True


def test_renaming_a_dependency_rewords_the_reason_without_a_new_alert(make, editor):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 25, after=[(filing, 15)])
    milestone_update(actor=editor, milestone=filing, data={"target_date": day(20)})
    milestone_update(actor=editor, milestone=filing, data={"title": "Public S-1"})

    roadshow.refresh_from_db()
    assert roadshow.at_risk_reason.startswith(f"Public S-1 is due on {day(20)}")
    assert len(risk_events()) == 1


def test_the_hourly_scan_flags_a_forecast_late_from_before_the_schedule(make, editor):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 25, after=[(filing, 15)])
    # As migration 0006 left such data: forecasts computed, no flags.
    Milestone.objects.filter(pk=filing.pk).update(target_date=day(20), forecast_date=day(20))
    Milestone.objects.filter(pk=roadshow.pk).update(forecast_date=day(35))

    reminders_scan(today=day(0))
    reminders_scan(today=day(0))

    roadshow.refresh_from_db()
    assert roadshow.at_risk
    assert roadshow.at_risk_reason.startswith(f"Public filing is due on {day(20)}")
    [event] = risk_events()
    assert (event.milestone_id, event.actor_name) == (roadshow.pk, "scheduler")


@pytest.mark.parametrize("status", [ProcessStatus.ABANDONED, ProcessStatus.COMPLETED])
def test_the_hourly_scan_leaves_closed_processes_alone(make, status):
    closed = ProcessFactory(status=status)
    signing = make("Agreement signed", 3, in_process=closed)

    reminders_scan(today=day(4))

    assert not Milestone.objects.get(pk=signing.pk).at_risk
    assert risk_events() == []
