"""Recording results: whatever a receiver answers or a send raises, the delivery leaves
"sending" with an attempt logged, and only the claim that sent it may record it."""

import datetime

import pytest
from django.core import mail
from django.utils import timezone

from tests.factories import MilestoneFactory
from tracker import tasks
from tracker.alerts import claims, recording, sending, transports
from tracker.alerts.dispatch import event_dispatch
from tracker.models import Event
from tracker.models.alerts import Delivery, DeliveryStatus
from tracker.services.alerts import endpoint_create, subscription_create
from tracker.services.milestones import milestone_update

pytestmark = pytest.mark.django_db


def _hook(owner, receiver, path="/hook"):
    endpoint = endpoint_create(owner=owner, data={"url": receiver.url(path)})
    subscription_create(owner=owner, data={"channel": "webhook", "endpoint": endpoint})
    return endpoint


def _change(milestone=None) -> Event:
    milestone = milestone or MilestoneFactory()
    milestone_update(actor="importer:test", milestone=milestone, data={"notes": "x"})
    return Event.objects.filter(milestone_id=milestone.pk).latest("id")


def _claimed(event: Event) -> list[Delivery]:
    ids = event_dispatch(event_id=event.pk).pending_ids
    return claims.deliveries_claim(ids=ids, now=timezone.now(), events={}).deliveries


def test_a_nul_byte_in_the_answer_is_recorded_without_it(owner, receiver):
    _hook(owner, receiver)
    receiver.script("/hook", (500, 0, {}, b'{"error": "bad\x00byte"}'))

    tasks.event_dispatch(_change().pk)

    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.RETRYING
    [attempt] = delivery.attempts.all()
    assert attempt.http_status == 500
    assert attempt.response_body == '{"error": "badbyte"}'


def test_a_batch_the_database_refuses_is_recorded_one_by_one(owner, receiver):
    _hook(owner, receiver, "/a")
    _hook(owner, receiver, "/b")
    first, second = _claimed(_change())
    now = timezone.now()
    # A lone surrogate cannot be encoded for PostgreSQL: the whole batch insert fails.
    unstorable = transports.Outcome(attempted_at=now, error="Request failed: \ud800")
    ok = transports.Outcome(attempted_at=now, succeeded=True, http_status=200)

    recording.deliveries_record([(first, unstorable), (second, ok)])

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.attempt_count) == (DeliveryStatus.RETRYING, 1)
    assert first.attempts.get().error == "The result of this attempt could not be stored."
    assert (second.status, second.attempt_count) == (DeliveryStatus.SUCCEEDED, 1)
    assert second.attempts.get().succeeded


def test_a_newline_in_a_title_makes_a_one_line_subject(owner):
    subscription_create(owner=owner, data={"channel": "email"})

    tasks.event_dispatch(_change(MilestoneFactory(title="S-1\r\nfiled")).pk)

    [message] = mail.outbox
    assert message.subject == "[Tracker] Milestone updated: S-1 filed"
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED


def test_a_send_that_raises_is_a_failed_attempt_not_a_stuck_delivery(owner):
    subscription_create(owner=owner, data={"channel": "email"})
    # Bad data that got past validation: the mail library refuses the header.
    type(owner).objects.filter(pk=owner.pk).update(email="a\nb@example.com")

    tasks.event_dispatch(_change().pk)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.FAILED, 1)
    assert "BadHeaderError" in delivery.attempts.get().error
    assert not mail.outbox


def test_a_non_ascii_path_is_sent_percent_encoded(owner, receiver):
    _hook(owner, receiver, "/hooks/café")

    tasks.event_dispatch(_change().pk)

    [request] = receiver.requests
    assert request.path == "/hooks/caf%C3%A9"
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (UnicodeEncodeError("ascii", "é", 0, 1, "not ASCII"), DeliveryStatus.FAILED),
        (RuntimeError("a bug"), DeliveryStatus.RETRYING),
    ],
)
def test_any_exception_from_a_send_becomes_a_recorded_attempt(owner, receiver, error, status):
    _hook(owner, receiver)
    [delivery] = _claimed(_change())

    def raising():
        raise error

    outcomes = sending._run(sending.Send([delivery], raising))
    recording.deliveries_record(list(zip([delivery], outcomes, strict=True)))

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (status, 1)
    assert type(error).__name__ in delivery.attempts.get().error


@pytest.mark.parametrize("meanwhile", ["claimed again", "redelivered"])
def test_a_stale_claims_result_does_not_overwrite_a_newer_state(owner, receiver, meanwhile):
    _hook(owner, receiver)
    [delivery] = _claimed(_change())
    # The worker that claimed it stalled past claim_timeout(): the sweep took the claim
    # back and another worker claimed it, or its owner redelivered it.
    newer = delivery.claimed_at + datetime.timedelta(seconds=10)
    if meanwhile == "claimed again":
        state = {"status": DeliveryStatus.SENDING, "claimed_at": newer}
    else:
        state = {"status": DeliveryStatus.PENDING, "claimed_at": None}
    Delivery.objects.filter(pk=delivery.pk).update(**state)
    late = transports.Outcome(attempted_at=timezone.now(), error="Answered 500.", http_status=500)

    recording.deliveries_record([(delivery, late)])

    row = Delivery.objects.get(pk=delivery.pk)
    assert (row.status, row.claimed_at, row.attempt_count) == (
        state["status"],
        state["claimed_at"],
        0,
    )
    assert not row.attempts.exists()


def test_a_stale_claim_does_not_hand_back_a_newer_claim(owner, receiver):
    _hook(owner, receiver)
    [delivery] = _claimed(_change())
    newer = delivery.claimed_at + datetime.timedelta(seconds=10)
    Delivery.objects.filter(pk=delivery.pk).update(claimed_at=newer)

    claims.deliveries_release([delivery])

    row = Delivery.objects.get(pk=delivery.pk)
    assert (row.status, row.claimed_at) == (DeliveryStatus.SENDING, newer)
