"""The write services the API and the admin call: validation, ownership, versions."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.factories import MilestoneFactory, ProcessFactory, UserFactory
from tracker.alerts.dispatch import event_dispatch
from tracker.models import Event, Subscription
from tracker.models.alerts import Delivery, DeliveryStatus
from tracker.services.alerts import (
    delivery_redeliver,
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_update,
    subscription_create,
    subscription_delete,
    subscription_update,
)
from tracker.services.errors import ConcurrentUpdateError
from tracker.services.milestones import milestone_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(owner):
    return endpoint_create(owner=owner, data={"url": "https://hooks.example.com/tracker"})


def _errors(call) -> dict:
    with pytest.raises(ValidationError) as caught:
        call()
    error = caught.value
    return error.message_dict if hasattr(error, "error_dict") else {"__all__": error.messages}


def test_an_email_subscription_goes_to_the_owners_address(owner):
    subscription = subscription_create(
        owner=owner, data={"channel": "email", "name": "All", "email": "Subscriber@example.com"}
    )
    assert subscription.cadence == "immediate"
    errors = _errors(
        lambda: subscription_create(
            owner=owner, data={"channel": "email", "email": "stranger@example.com"}
        )
    )
    assert "email" in errors


def test_filters_name_known_kinds_and_event_types_only(owner):
    errors = _errors(
        lambda: subscription_create(
            owner=owner,
            data={"channel": "email", "milestone_kinds": ["rocket"], "event_types": ["x.y"]},
        )
    )
    assert set(errors) == {"milestone_kinds", "event_types"}
    assert "rocket" in errors["milestone_kinds"][0]
    assert not Subscription.objects.exists()


def test_filters_keep_organizations_and_processes(owner):
    process = ProcessFactory()
    subscription = subscription_create(
        owner=owner,
        data={"channel": "email", "milestone_kinds": ["filing", "filing"]},
        processes=[process],
        organizations=[process.organization],
    )
    assert subscription.milestone_kinds == ["filing"]
    assert list(subscription.processes.all()) == [process]
    assert list(subscription.organizations.all()) == [process.organization]


def test_a_webhook_subscription_needs_the_owners_endpoint_and_is_immediate(owner, endpoint):
    stranger = UserFactory()
    errors = _errors(
        lambda: subscription_create(
            owner=stranger, data={"channel": "webhook", "endpoint": endpoint}
        )
    )
    assert "endpoint" in errors
    errors = _errors(
        lambda: subscription_create(
            owner=owner, data={"channel": "webhook", "endpoint": endpoint, "cadence": "daily"}
        )
    )
    assert "cadence" in errors
    assert "needs an endpoint" in str(
        _errors(lambda: subscription_create(owner=owner, data={"channel": "webhook"}))
    )
    by_id = subscription_create(
        owner=owner, data={"channel": "webhook", "endpoint_id": endpoint.pk}
    )
    assert by_id.endpoint == endpoint


def test_unknown_fields_are_refused(owner):
    assert "owner" in _errors(lambda: subscription_create(owner=owner, data={"owner": 1}))
    assert "secret" in _errors(
        lambda: endpoint_create(owner=owner, data={"url": "https://a.example", "secret": "x"})
    )


def test_a_stale_version_is_refused(owner):
    subscription = subscription_create(owner=owner, data={"channel": "email"})
    subscription = subscription_update(
        subscription=subscription, data={"name": "Renamed"}, expected_version=1
    )
    assert subscription.version == 2
    with pytest.raises(ConcurrentUpdateError):
        subscription_update(subscription=subscription, data={"name": "Again"}, expected_version=1)


def test_subscription_update_replaces_filters_only_when_given(owner):
    process = ProcessFactory()
    subscription = subscription_create(owner=owner, data={"channel": "email"}, processes=[process])
    subscription_update(subscription=subscription, data={"name": "x"})
    assert list(subscription.processes.all()) == [process]
    subscription_update(subscription=subscription, data={}, processes=[])
    assert not subscription.processes.exists()


def test_an_endpoint_gets_a_secret_and_refuses_bad_urls(owner, settings):
    endpoint = endpoint_create(owner=owner, data={"url": "https://hooks.example.com/x"})
    assert endpoint.secret.startswith("whsec_")
    assert "url" in _errors(lambda: endpoint_create(owner=owner, data={"url": "not a url"}))
    assert "url" in _errors(lambda: endpoint_create(owner=owner, data={"url": "ftp://a.example"}))
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    errors = _errors(lambda: endpoint_create(owner=owner, data={"url": "http://10.0.0.1/x"}))
    assert "private" in errors["url"][0]
    settings.WEBHOOK_ALLOW_HTTP = False
    errors = _errors(lambda: endpoint_create(owner=owner, data={"url": "http://a.example/x"}))
    assert "https" in errors["url"][0]


def test_disabling_cancels_waiting_deliveries_and_re_enabling_clears_the_reason(owner, endpoint):
    subscription_create(owner=owner, data={"channel": "webhook", "endpoint": endpoint})
    milestone = MilestoneFactory()
    milestone_update(actor="importer:test", milestone=milestone, data={"notes": "x"})
    event_dispatch(event_id=Event.objects.get().pk)
    Delivery.objects.update(status=DeliveryStatus.PENDING, claimed_at=None)  # not sent yet
    endpoint = endpoint_update(endpoint=endpoint, data={"enabled": False}, expected_version=1)
    assert endpoint.disabled_reason == "Disabled by its owner."
    assert Delivery.objects.get().status == DeliveryStatus.CANCELLED

    endpoint = endpoint_update(endpoint=endpoint, data={"enabled": True})
    assert (endpoint.disabled_reason, endpoint.disabled_at, endpoint.failing_since) == (
        "",
        None,
        None,
    )
    with pytest.raises(ConcurrentUpdateError):
        endpoint_update(endpoint=endpoint, data={"description": "x"}, expected_version=1)


def test_rotation_keeps_the_previous_secret_for_the_grace_period(endpoint):
    old = endpoint.secret
    rotated = endpoint_rotate_secret(endpoint=endpoint)
    assert rotated.secret != old and rotated.previous_secret == old
    grace = rotated.previous_secret_expires_at - timezone.now()
    assert datetime.timedelta(hours=23, minutes=59) < grace <= datetime.timedelta(hours=24)


def test_a_test_event_needs_an_enabled_endpoint(endpoint):
    endpoint = endpoint_update(endpoint=endpoint, data={"enabled": False})
    _errors(lambda: endpoint_send_test(endpoint=endpoint))
    endpoint = endpoint_update(endpoint=endpoint, data={"enabled": True})
    delivery = endpoint_send_test(endpoint=endpoint)
    assert (delivery.event_type, delivery.subscription, delivery.status) == (
        "webhook.test",
        None,
        DeliveryStatus.PENDING,
    )


def test_a_delivery_being_sent_or_held_cannot_be_redelivered(owner, endpoint):
    delivery = endpoint_send_test(endpoint=endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.SENDING)
    _errors(lambda: delivery_redeliver(delivery=delivery))
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, attempt_count=3)
    again = delivery_redeliver(delivery=delivery)
    assert (again.status, again.attempt_count, again.message_id) == (
        DeliveryStatus.PENDING,
        0,
        delivery.message_id,
    )


def test_deleting_removes_the_rows(owner, endpoint):
    subscription = subscription_create(
        owner=owner, data={"channel": "webhook", "endpoint": endpoint}
    )
    test_delivery = endpoint_send_test(endpoint=endpoint)
    subscription_delete(subscription=subscription)
    assert not Subscription.objects.exists()
    endpoint_delete(endpoint=endpoint)
    assert not Delivery.objects.filter(pk=test_delivery.pk).exists()
