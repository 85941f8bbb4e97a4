"""Who hears an event, and how often: once per webhook endpoint and per owner's address,
only subscriptions that existed before the event, and nobody who has left. Real
PostgreSQL, the local receiver, Django's test outbox."""

import datetime

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from tests.factories import MilestoneFactory, ProcessFactory, UserFactory
from tracker import tasks
from tracker.alerts import bulk, dispatch
from tracker.alerts.digests import digest_send, digests_build
from tracker.alerts.dispatch import event_dispatch
from tracker.models import Event
from tracker.models.alerts import Delivery, DeliveryStatus, Digest, DigestStatus
from tracker.services.alerts import (
    delivery_redeliver,
    endpoint_create,
    subscription_create,
    subscription_update,
)
from tracker.services.milestones import milestone_update

pytestmark = pytest.mark.django_db


def _change(milestone=None, **data) -> Event:
    milestone = milestone or MilestoneFactory()
    milestone_update(actor="importer:test", milestone=milestone, data=data or {"notes": "x"})
    return Event.objects.filter(milestone_id=milestone.pk).latest("id")


def _hook(owner, endpoint, **data):
    processes = data.pop("processes", ())
    return subscription_create(
        owner=owner, data={"channel": "webhook", "endpoint": endpoint, **data}, processes=processes
    )


@pytest.fixture
def endpoint(owner, receiver):
    return endpoint_create(owner=owner, data={"url": receiver.url("/hook")})


# --- Once per event and endpoint, once per event and address ----------------------------


def test_two_subscriptions_to_one_endpoint_send_one_webhook(owner, endpoint, receiver):
    milestone = MilestoneFactory()
    _hook(owner, endpoint)
    _hook(owner, endpoint, processes=[milestone.process], event_types=["milestone.updated"])
    event = _change(milestone)

    assert tasks.event_dispatch(event.pk) == 1
    assert tasks.event_dispatch(event.pk) == 0

    delivery = Delivery.objects.get(event=event)
    [request] = receiver.requests
    assert request.headers["webhook-id"] == delivery.message_id

    # A redelivery is the same message to the receiver: the same webhook-id.
    delivery_redeliver(delivery=delivery)
    tasks.deliveries_send([delivery.pk])
    assert [r.headers["webhook-id"] for r in receiver.requests] == [delivery.message_id] * 2


def test_a_large_fan_out_sends_once_per_endpoint(owner, receiver):
    endpoints = [
        endpoint_create(owner=owner, data={"url": receiver.url(f"/hook/{n}")}) for n in range(6)
    ]
    for endpoint in endpoints:
        _hook(owner, endpoint)
        _hook(owner, endpoint, name="second")
    event = _change()

    tasks.event_dispatch(event.pk)

    assert Delivery.objects.filter(event=event).count() == len(endpoints)
    assert sorted(r.path for r in receiver.requests) == sorted(
        f"/hook/{n}" for n in range(len(endpoints))
    )
    assert len({r.headers["webhook-id"] for r in receiver.requests}) == len(endpoints)


def test_the_database_refuses_a_second_delivery_to_one_endpoint_or_address(owner, endpoint):
    webhook = _hook(owner, endpoint)
    second = _hook(owner, endpoint, name="second")
    by_email = subscription_create(owner=owner, data={"channel": "email"})
    also_by_email = subscription_create(owner=owner, data={"channel": "email", "name": "2"})
    event = _change()
    event_dispatch(event_id=event.pk)
    assert {d.subscription_id for d in Delivery.objects.filter(event=event)} == {
        webhook.pk,
        by_email.pk,
    }

    # A second dispatcher's insert (dispatch uses INSERT ... ON CONFLICT DO NOTHING) adds
    # nothing, and a plain one is refused.
    now = timezone.now()
    bulk.rows_insert(
        Delivery,
        dispatch._COLUMNS,
        [
            (event.pk, second.pk, owner.pk, "webhook", endpoint.pk, event.type, "pending",
             "msg_racing", 0, now, now, ""),
            (event.pk, also_by_email.pk, owner.pk, "email", None, event.type, "pending",
             "msg_racing_mail", 0, now, now, ""),
        ],
        skip_conflicts=True,
    )  # fmt: skip
    assert Delivery.objects.filter(event=event).count() == 2
    for subscription, target in ((second, {"endpoint": endpoint}), (also_by_email, {})):
        with pytest.raises(IntegrityError), transaction.atomic():
            Delivery.objects.create(
                event=event,
                subscription=subscription,
                owner=owner,
                channel=subscription.channel,
                event_type=event.type,
                message_id=f"msg_{subscription.pk}",
                **target,
            )


def test_an_owners_email_subscriptions_send_one_immediate_email(owner):
    subscription_create(owner=owner, data={"channel": "email"})
    subscription_create(
        owner=owner, data={"channel": "email", "event_types": ["milestone.updated"]}
    )
    other = UserFactory(email="other@example.com")
    subscription_create(owner=other, data={"channel": "email"})

    tasks.event_dispatch(_change().pk)

    assert sorted(m.to[0] for m in mail.outbox) == ["other@example.com", owner.email]


def test_a_digest_and_an_immediate_subscription_are_two_messages(owner):
    immediate = subscription_create(owner=owner, data={"channel": "email"})
    daily = subscription_create(owner=owner, data={"channel": "email", "cadence": "daily"})
    event = _change()

    tasks.event_dispatch(event.pk)

    statuses = dict(Delivery.objects.filter(event=event).values_list("subscription", "status"))
    assert statuses == {immediate.pk: DeliveryStatus.SUCCEEDED, daily.pk: DeliveryStatus.HELD}
    assert len(mail.outbox) == 1

    # Made immediate, the digest subscription does not send what was already sent.
    subscription_update(subscription=daily, data={"cadence": "immediate"})
    held = Delivery.objects.get(event=event, subscription=daily)
    assert held.status == DeliveryStatus.CANCELLED
    assert held.cancelled_reason == "Already sent immediately to the same address."


# --- Only what happens after a subscription exists --------------------------------------


def test_a_subscription_hears_nothing_committed_before_it_even_when_dispatched_late(
    owner, endpoint, receiver
):
    # The demo was loaded while the broker was down: its events are committed, undispatched.
    process = ProcessFactory()
    before = [_change(MilestoneFactory(process=process)) for _ in range(3)]
    subscription = _hook(owner, endpoint)
    after = _change(MilestoneFactory(process=process))

    for event in [*before, after]:  # the sweep dispatches them late, oldest first
        tasks.event_dispatch(event.pk)

    [request] = receiver.requests
    assert request.json()["id"] == str(after.uuid)
    assert not Delivery.objects.filter(event__in=before).exists()
    after.refresh_from_db()
    assert subscription.starts_after_sequence < after.sequence
    assert all(e.sequence <= subscription.starts_after_sequence for e in Event.objects.all()[:3])


def test_a_subscription_turned_back_on_hears_only_what_happens_from_then(owner, endpoint):
    subscription = _hook(owner, endpoint, active=False)
    while_off = _change()
    subscription_update(subscription=subscription, data={"active": True})
    after = _change()

    for event in (while_off, after):
        event_dispatch(event_id=event.pk)

    assert list(Delivery.objects.values_list("event", flat=True)) == [after.pk]


# --- Owners who leave stop hearing ------------------------------------------------------


def test_a_deactivated_owner_is_matched_by_nothing(owner, endpoint):
    _hook(owner, endpoint)
    subscription_create(owner=owner, data={"channel": "email"})
    type(owner).objects.filter(pk=owner.pk).update(is_active=False)

    tasks.event_dispatch(_change().pk)

    assert not Delivery.objects.exists()
    assert not mail.outbox


def test_deactivating_a_user_in_the_admin_cancels_what_waits_for_them(
    admin_client, owner, endpoint, receiver
):
    _hook(owner, endpoint)
    subscription_create(owner=owner, data={"channel": "email", "cadence": "daily"})
    event = _change()
    fanout = event_dispatch(event_id=event.pk)
    # Left pending, as if the send had failed once and waited for its retry.
    Delivery.objects.filter(pk__in=fanout.pending_ids).update(
        status=DeliveryStatus.RETRYING, attempt_count=1, claimed_at=None
    )

    joined = timezone.localtime(owner.date_joined)
    response = admin_client.post(
        reverse("admin:auth_user_change", args=[owner.pk]),
        {
            "username": owner.username,
            "email": owner.email,
            "date_joined_0": joined.strftime("%Y-%m-%d"),
            "date_joined_1": joined.strftime("%H:%M:%S"),
            # "is_active" left out: the box is unticked.
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]

    deliveries = Delivery.objects.filter(event=event)
    assert {d.status for d in deliveries} == {DeliveryStatus.CANCELLED}
    assert {d.cancelled_reason for d in deliveries} == {"Its owner's account was deactivated."}
    tasks.deliveries_send([d.pk for d in deliveries])
    assert not receiver.requests


def test_the_sender_refuses_a_delivery_whose_owner_was_deactivated_meanwhile(
    owner, endpoint, receiver
):
    # Deactivated some other way (the shell, a directory sync): the claim still refuses.
    _hook(owner, endpoint)
    fanout = event_dispatch(event_id=_change().pk)
    [delivery] = Delivery.objects.filter(pk__in=fanout.pending_ids)
    type(owner).objects.filter(pk=owner.pk).update(is_active=False)

    report = tasks.sending.deliveries_send(delivery_ids=[delivery.pk])

    delivery.refresh_from_db()
    assert (report.cancelled, delivery.status) == (1, DeliveryStatus.CANCELLED)
    assert delivery.cancelled_reason == "Its owner's account was deactivated."
    assert not receiver.requests


def test_a_deactivated_owner_gets_no_digest(owner, time_machine):
    subscription_create(owner=owner, data={"channel": "email", "cadence": "daily"})
    tasks.event_dispatch(_change().pk)
    time_machine.move_to(timezone.now() + datetime.timedelta(days=1))
    users = type(owner).objects.filter(pk=owner.pk)

    users.update(is_active=False)
    assert digests_build(cadence="daily") == []

    # Built while the owner was active, sent after they left: cancelled, not sent.
    users.update(is_active=True)
    [digest_id] = digests_build(cadence="daily")
    users.update(is_active=False)
    assert not digest_send(digest_id=digest_id)

    assert Digest.objects.get(pk=digest_id).status == DigestStatus.FAILED
    assert Delivery.objects.get().status == DeliveryStatus.CANCELLED
    assert not mail.outbox


def test_email_goes_to_the_owners_current_address(owner):
    subscription_create(owner=owner, data={"channel": "email"})
    event = _change()
    event_dispatch(event_id=event.pk)  # claimed; not sent yet
    Delivery.objects.update(status=DeliveryStatus.PENDING, claimed_at=None)
    owner.email = "moved@example.com"
    owner.save()

    tasks.deliveries_send(list(Delivery.objects.values_list("pk", flat=True)))

    [message] = mail.outbox
    assert message.to == ["moved@example.com"]


def test_a_subscription_stays_editable_after_the_owner_changes_address(owner, client):
    from tests.api.conftest import bearer

    subscription = subscription_create(owner=owner, data={"channel": "email"})
    owner.email = "moved@example.com"
    owner.save()
    auth = bearer(owner)
    url = f"/api/v1/subscriptions/{subscription.pk}/"

    shown = client.get(url, **auth).json()
    assert shown["email"] == "moved@example.com"
    changed = client.patch(url, {"name": "Renamed"}, content_type="application/json", **auth)
    assert changed.status_code == 200, changed.content
    # Sending back what was read works too.
    body = {k: v for k, v in changed.json().items() if k not in ("id", "version")}
    body = {k: v for k, v in body.items() if k not in ("created_at", "updated_at")}
    body.pop("starts_after_sequence")
    replaced = client.put(url, body, content_type="application/json", **auth)
    assert replaced.status_code == 200, replaced.content


def test_the_admin_saves_a_subscription_after_the_owner_changes_address(admin_client, owner):
    subscription = subscription_create(owner=owner, data={"channel": "email"})
    owner.email = "moved@example.com"
    owner.save()
    url = reverse("admin:tracker_subscription_change", args=[subscription.pk])

    page = admin_client.get(url)
    assert "moved@example.com" in page.content.decode()
    response = admin_client.post(
        url,
        {
            "name": "Renamed",
            "channel": "email",
            "cadence": "immediate",
            "active": "on",
            "milestone_kinds": "[]",
            "event_types": "[]",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    subscription.refresh_from_db()
    assert subscription.name == "Renamed"
