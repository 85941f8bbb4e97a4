"""Deleting what a subscription filters on neither silences nor widens it."""

import pytest

from tests.factories import MilestoneFactory, OrganizationFactory, ProcessFactory, UserFactory
from tracker.alerts.dispatch import event_dispatch
from tracker.alerts.services import subscription_create
from tracker.models import Delivery, Event, Subscription
from tracker.services.milestones import milestone_update
from tracker.services.organizations import organization_delete
from tracker.services.processes import process_delete

pytestmark = pytest.mark.django_db


def email_subscription(**filters) -> Subscription:
    owner = UserFactory()
    return subscription_create(owner=owner, data={"channel": "email"}, **filters)


def test_followers_of_a_deleted_process_hear_of_the_deletion_and_nothing_after():
    process = ProcessFactory()
    MilestoneFactory(process=process)
    other = MilestoneFactory()
    follower = email_subscription(processes=[process])
    of_two = email_subscription(processes=[process, other.process])

    process_delete(actor="t", process=process)

    deletion_events = set(Event.objects.filter(process_id=process.pk).values_list("pk", flat=True))
    assert (
        set(Delivery.objects.filter(subscription=follower).values_list("event_id", flat=True))
        == deletion_events
    )
    follower.refresh_from_db()
    of_two.refresh_from_db()
    assert follower.active is False  # an empty filter would have meant "everything"
    assert of_two.active is True

    milestone_update(actor="t", milestone=other, data={"title": "Elsewhere"})
    event_dispatch(event_id=Event.objects.latest("id").pk)
    assert not Delivery.objects.filter(subscription=follower, event__process=other.process)
    assert Delivery.objects.filter(subscription=of_two, event__process=other.process).exists()


def test_a_subscription_to_a_deleted_organization_is_stopped_not_widened():
    organization = OrganizationFactory()
    kept = OrganizationFactory()
    only = email_subscription(organizations=[organization])
    both = email_subscription(organizations=[organization, kept])

    organization_delete(organization=organization)

    only.refresh_from_db()
    both.refresh_from_db()
    assert (only.active, both.active) == (False, True)
    assert list(both.organizations.all()) == [kept]
