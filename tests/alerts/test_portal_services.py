"""The services behind the subscribers' pages: follow and unfollow, resending what failed
since a time, invitations and the time zone."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.factories import MilestoneFactory, OrganizationFactory, ProcessFactory, UserFactory
from tracker.alerts.dispatch import event_dispatch
from tracker.models import AccountProfile, Delivery, Event, Invitation, Subscription
from tracker.models.alerts import DeliveryStatus
from tracker.selectors.accounts import account_time_zone_name, invitation_usable
from tracker.selectors.alerts import subscriptions_following
from tracker.services.accounts import (
    account_time_zone_update,
    invitation_accept,
    invitation_create,
)
from tracker.services.alerts import (
    deliveries_redeliver_failed,
    endpoint_create,
    endpoint_send_test,
    endpoint_update,
    subscription_create,
    subscription_follow,
    subscription_unfollow,
    subscription_update,
)
from tracker.services.milestones import milestone_update

pytestmark = pytest.mark.django_db


def test_follow_links_only_the_one_organization_or_process(owner):
    organization = OrganizationFactory(name="Acme")
    process = ProcessFactory(organization=organization, title="IPO")
    by_org = subscription_follow(
        owner=owner, data={"channel": "email", "cadence": "weekly"}, organization=organization
    )
    by_process = subscription_follow(owner=owner, data={"channel": "email"}, process=process)
    # A subscription naming both is not a "follow" of either.
    subscription_create(
        owner=owner, data={"channel": "email"}, organizations=[organization], processes=[process]
    )

    assert by_org.name == "Follow Acme"
    assert list(subscriptions_following(owner=owner, organization=organization)) == [by_org]
    assert list(subscriptions_following(owner=owner, process=process)) == [by_process]
    assert list(subscriptions_following(owner=UserFactory(), process=process)) == []

    assert subscription_unfollow(subscriptions=[by_process]) == 1
    assert subscription_unfollow(subscriptions=[by_process]) == 0  # twice: nothing more
    assert Subscription.objects.count() == 2


def test_follow_needs_exactly_one_target(owner):
    with pytest.raises(ValidationError):
        subscription_follow(owner=owner, data={"channel": "email"})
    assert not Subscription.objects.exists()


def _failed(endpoint, *, hours_ago: float):
    delivery = endpoint_send_test(endpoint=endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.FAILED,
        attempt_count=3,
        created_at=timezone.now() - datetime.timedelta(hours=hours_ago),
    )
    return delivery


def test_resend_failed_since_requeues_only_what_failed_after_the_time(owner):
    endpoint = endpoint_create(owner=owner, data={"url": "https://hooks.example.com/a"})
    old, recent = _failed(endpoint, hours_ago=30), _failed(endpoint, hours_ago=2)
    other = endpoint_create(owner=owner, data={"url": "https://hooks.example.com/b"})
    elsewhere = _failed(other, hours_ago=1)

    since = timezone.now() - datetime.timedelta(hours=24)
    assert deliveries_redeliver_failed(endpoint=endpoint, since=since) == 1

    rows = {d.pk: (d.status, d.attempt_count) for d in Delivery.objects.all()}
    assert rows[recent.pk] == (DeliveryStatus.PENDING, 0)
    assert rows[old.pk] == (DeliveryStatus.FAILED, 3)
    assert rows[elsewhere.pk] == (DeliveryStatus.FAILED, 3)
    assert Delivery.objects.get(pk=recent.pk).message_id == recent.message_id  # same webhook-id
    # Run twice: nothing is failed any more, nothing more is queued.
    assert deliveries_redeliver_failed(endpoint=endpoint, since=since) == 0


def test_resend_failed_skips_turned_off_subscriptions_and_refuses_a_disabled_endpoint(owner):
    endpoint = endpoint_create(owner=owner, data={"url": "https://hooks.example.com/a"})
    subscription = subscription_create(
        owner=owner, data={"channel": "webhook", "endpoint": endpoint}
    )
    _failed(endpoint, hours_ago=1)
    # A failed delivery of a subscription turned off since stays failed.
    milestone = MilestoneFactory()
    milestone_update(actor="importer:test", milestone=milestone, data={"status": "delayed"})
    event_dispatch(event_id=Event.objects.filter(milestone_id=milestone.pk).latest("id").pk)
    Delivery.objects.filter(subscription=subscription).update(status=DeliveryStatus.FAILED)
    subscription_update(subscription=subscription, data={"active": False})

    since = timezone.now() - datetime.timedelta(hours=5)
    assert deliveries_redeliver_failed(endpoint=endpoint, since=since) == 1
    assert Delivery.objects.get(subscription=subscription).status == DeliveryStatus.FAILED

    endpoint_update(endpoint=endpoint, data={"enabled": False})
    Delivery.objects.filter(endpoint=endpoint).update(status=DeliveryStatus.FAILED)
    with pytest.raises(ValidationError, match="disabled"):
        deliveries_redeliver_failed(endpoint=endpoint, since=since)
    assert not Delivery.objects.exclude(status=DeliveryStatus.FAILED).exists()


def test_an_invitation_is_accepted_once_and_not_after_it_expires(db, settings):
    invitation, token = invitation_create(email="new@example.com", invited_by=None)
    assert token not in invitation.token_hash
    assert invitation_usable(token=token) == invitation

    user = invitation_accept(token=token, username="new", password="tracker-secret-42")
    assert (user.email, user.is_staff, user.check_password("tracker-secret-42")) == (
        "new@example.com",
        False,
        True,
    )
    with pytest.raises(ValidationError, match="already been used"):
        invitation_accept(token=token, username="again", password="tracker-secret-42")
    assert invitation_usable(token=token) is None

    expired, late_token = invitation_create(email="late@example.com", invited_by=None)
    Invitation.objects.filter(pk=expired.pk).update(expires_at=timezone.now())
    with pytest.raises(ValidationError, match="expired"):
        invitation_accept(token=late_token, username="late", password="tracker-secret-42")
    assert not type(user).objects.filter(username="late").exists()


def test_a_weak_password_is_refused_and_the_invitation_stays_usable(db):
    _, token = invitation_create(email="new@example.com", invited_by=None)
    with pytest.raises(ValidationError):
        invitation_accept(token=token, username="new", password="new")
    assert invitation_usable(token=token) is not None


def test_time_zone_update_validates_the_name(owner, settings):
    assert account_time_zone_name(user=owner) == settings.TIME_ZONE
    account_time_zone_update(user=owner, time_zone="Europe/Paris")
    assert account_time_zone_name(user=owner) == "Europe/Paris"
    with pytest.raises(ValidationError, match="not a time zone name"):
        account_time_zone_update(user=owner, time_zone="Europe/Atlantis")
    assert AccountProfile.objects.get(user=owner).time_zone == "Europe/Paris"
    account_time_zone_update(user=owner, time_zone="")  # back to the site's
    assert account_time_zone_name(user=owner) == settings.TIME_ZONE
