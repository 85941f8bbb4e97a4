"""Deleting what a subscription filters on neither silences nor widens it."""

import pytest
from django.core import mail

from tests.factories import MilestoneFactory, OrganizationFactory, ProcessFactory, UserFactory
from tracker.alerts.dispatch import event_dispatch
from tracker.alerts.sending import deliveries_send
from tracker.models import Delivery, Event, Subscription
from tracker.models.alerts import DeliveryStatus
from tracker.services.alerts import subscription_create, subscription_update
from tracker.services.milestones import milestone_update
from tracker.services.organizations import organization_delete
from tracker.services.processes import process_delete

pytestmark = pytest.mark.django_db


def email_subscription(**filters) -> Subscription:
    return subscription_create(owner=UserFactory(), data={"channel": "email"}, **filters)


def dispatch_and_send_new_events(after_id: int) -> None:
    """What the worker does after commit, in this process."""
    for event_id in Event.objects.filter(pk__gt=after_id).values_list("pk", flat=True):
        fanout = event_dispatch(event_id=event_id)
        deliveries_send(delivery_ids=fanout.pending_ids)
    Delivery.objects.filter(status=DeliveryStatus.SENDING).update(status=DeliveryStatus.PENDING)
    deliveries_send(delivery_ids=Delivery.objects.values_list("pk", flat=True))


def test_followers_of_a_deleted_process_hear_of_the_deletion_and_nothing_after():
    process = ProcessFactory(title="Doomed")
    MilestoneFactory(process=process)
    other = MilestoneFactory()
    follower = email_subscription(processes=[process])
    start = Event.objects.order_by("-id").values_list("pk", flat=True).first() or 0

    process_delete(actor="t", process=process)
    dispatch_and_send_new_events(start)

    deletion_types = sorted(Event.objects.filter(pk__gt=start).values_list("type", flat=True))
    delivered = Delivery.objects.filter(subscription=follower, status=DeliveryStatus.SUCCEEDED)
    assert sorted(delivered.values_list("event__type", flat=True)) == deletion_types
    assert len([m for m in mail.outbox if follower.owner.email in m.to]) == len(deletion_types)

    start = Event.objects.latest("id").pk
    milestone_update(actor="t", milestone=other, data={"title": "Elsewhere"})
    dispatch_and_send_new_events(start)
    assert not Delivery.objects.filter(subscription=follower, event_id__gt=start).exists()


def test_a_filter_on_a_deleted_organization_keeps_matching_nothing_else():
    organization = OrganizationFactory()
    kept = OrganizationFactory()
    only = email_subscription(organizations=[organization])
    both = email_subscription(organizations=[organization, kept])

    organization_delete(actor="tests", organization=organization)
    milestone = MilestoneFactory()  # some other organization's
    start = Event.objects.order_by("-id").values_list("pk", flat=True).first() or 0
    milestone_update(actor="t", milestone=milestone, data={"title": "Elsewhere"})
    dispatch_and_send_new_events(start)

    assert not Delivery.objects.filter(subscription__in=[only, both]).exists()
    assert list(both.organizations.all()) == [kept]


def test_editing_a_subscription_keeps_its_links_to_deleted_processes():
    doomed, kept, added = ProcessFactory(), ProcessFactory(), ProcessFactory()
    subscription = email_subscription(processes=[doomed, kept])
    process_delete(actor="t", process=doomed)

    subscription_update(subscription=subscription, data={}, processes=[kept, added])

    linked = set(subscription.process_links.values_list("process_id", flat=True))
    assert linked == {doomed.pk, kept.pk, added.pk}
