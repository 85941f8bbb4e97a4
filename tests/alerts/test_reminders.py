"""Reminders: once per milestone and target date; moving the date re-arms them."""

import datetime

import pytest

from tests.factories import FilingFactory, MilestoneFactory
from tracker import tasks
from tracker.alerts.reminders import reminders_scan
from tracker.models import Event
from tracker.models.alerts import Delivery
from tracker.services.alerts import endpoint_create, subscription_create
from tracker.services.milestones import milestone_update

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2025, 10, 20)


def _reminders():
    return list(
        Event.objects.filter(
            type__in=["milestone.deadline_approaching", "milestone.overdue"]
        ).values_list("type", "dedupe_key", "actor_name")
    )


def test_deadline_reminders_fire_at_7_and_1_days_once_each():
    milestone = MilestoneFactory(target_date=TODAY + datetime.timedelta(days=7))
    assert len(reminders_scan(today=TODAY)) == 1
    assert reminders_scan(today=TODAY) == []
    assert reminders_scan(today=TODAY + datetime.timedelta(days=3)) == []
    assert len(reminders_scan(today=TODAY + datetime.timedelta(days=6))) == 1
    assert reminders_scan(today=TODAY + datetime.timedelta(days=6)) == []
    assert _reminders() == [
        ("milestone.deadline_approaching", f"deadline:7d:{milestone.pk}:2025-10-27", "scheduler"),
        ("milestone.deadline_approaching", f"deadline:1d:{milestone.pk}:2025-10-27", "scheduler"),
    ]


def test_overdue_fires_once_per_target_date():
    milestone = MilestoneFactory(target_date=TODAY - datetime.timedelta(days=2))
    reminders_scan(today=TODAY)
    reminders_scan(today=TODAY + datetime.timedelta(days=1))
    assert _reminders() == [
        ("milestone.overdue", f"overdue:{milestone.pk}:2025-10-18", "scheduler"),
    ]


@pytest.mark.parametrize("status", ["completed", "abandoned"])
def test_a_closed_process_reminds_no_one(status):
    MilestoneFactory(target_date=TODAY - datetime.timedelta(days=2), process__status=status)
    MilestoneFactory(target_date=TODAY + datetime.timedelta(days=1), process__status=status)
    assert reminders_scan(today=TODAY) == []
    assert _reminders() == []


def test_moving_the_target_date_re_arms_the_reminders():
    milestone = MilestoneFactory(target_date=TODAY - datetime.timedelta(days=1))
    reminders_scan(today=TODAY)
    milestone_update(actor="importer:test", milestone=milestone, data={"target_date": TODAY})
    reminders_scan(today=TODAY + datetime.timedelta(days=1))
    assert [key for _, key, _ in _reminders()] == [
        f"overdue:{milestone.pk}:2025-10-19",
        f"overdue:{milestone.pk}:2025-10-20",
    ]


def test_a_milestone_created_inside_the_window_gets_one_early_reminder():
    milestone = MilestoneFactory(target_date=TODAY + datetime.timedelta(days=3))
    reminders_scan(today=TODAY)
    reminders_scan(today=TODAY + datetime.timedelta(days=1))
    assert [key for _, key, _ in _reminders()] == [f"deadline:7d:{milestone.pk}:2025-10-23"]


def test_closed_and_undated_milestones_get_no_reminders():
    MilestoneFactory(target_date=TODAY, status="cancelled")
    MilestoneFactory(
        target_date=TODAY - datetime.timedelta(days=3),
        status="completed",
        actual_date=TODAY - datetime.timedelta(days=3),
    )
    MilestoneFactory(target_date=None)
    MilestoneFactory(target_date=TODAY + datetime.timedelta(days=30))
    assert reminders_scan(today=TODAY) == []


def test_reminders_carry_the_typed_snapshot_and_flow_through_subscriptions(owner, receiver):
    endpoint = endpoint_create(owner=owner, data={"url": receiver.url()})
    subscription_create(
        owner=owner,
        data={"channel": "webhook", "endpoint": endpoint, "event_types": ["milestone.overdue"]},
    )
    filing = FilingFactory(target_date=TODAY - datetime.timedelta(days=1), form_type="S-1")
    MilestoneFactory(target_date=TODAY + datetime.timedelta(days=1))
    for event_id in reminders_scan(today=TODAY):
        tasks.event_dispatch(event_id)
    [request] = receiver.requests
    body = request.json()
    assert body["type"] == "milestone.overdue"
    assert body["data"]["milestone"]["id"] == filing.pk
    assert body["data"]["milestone"]["form_type"] == "S-1"
    assert body["data"]["actor"] == {"type": "system", "name": "scheduler"}
    assert Delivery.objects.count() == 1


def test_the_scan_task_runs_twice_and_acts_once(time_machine):
    time_machine.move_to(datetime.datetime(2025, 10, 20, 6, 5, tzinfo=datetime.UTC))
    MilestoneFactory(target_date=TODAY + datetime.timedelta(days=1))
    MilestoneFactory(target_date=TODAY - datetime.timedelta(days=1))
    assert tasks.reminders_scan() == 2
    assert tasks.reminders_scan() == 0
