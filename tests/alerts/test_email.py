"""Email at volume, on a real SMTP server (aiosmtpd): the immediate emails due together go
over one connection, and a server that stalls cannot hold a send past EMAIL_TOTAL_TIMEOUT
(below the claim timeout), so a stalled mail is retried, never sent twice."""

import datetime
import time

import pytest
import time_machine
from django.utils import timezone

from tests.factories import MilestoneFactory, UserFactory
from tracker import tasks
from tracker.alerts import claims
from tracker.alerts.dispatch import event_dispatch
from tracker.models import Event
from tracker.models.alerts import Delivery, DeliveryStatus
from tracker.services.alerts import subscription_create
from tracker.services.milestones import milestone_update

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp(settings, smtp_server):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    return smtp_server


def _email_subscribers(count: int) -> None:
    for n in range(count):
        owner = UserFactory(username=f"reader{n}", email=f"reader{n}@example.com")
        subscription_create(owner=owner, data={"channel": "email"})


def _pending() -> list[int]:
    milestone = MilestoneFactory()
    milestone_update(actor="importer:test", milestone=milestone, data={"status": "delayed"})
    event = Event.objects.filter(milestone_id=milestone.pk).latest("id")
    return event_dispatch(event_id=event.pk).pending_ids


def test_emails_due_together_go_over_one_smtp_connection(smtp):
    _email_subscribers(12)

    assert tasks.deliveries_send(_pending()) == 12

    arrived = smtp.wait_for(12)
    assert sorted(m["To"] for m in arrived) == sorted(f"reader{n}@example.com" for n in range(12))
    assert len(set(smtp.peers)) == 1
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}


def test_a_tarpitting_server_fails_the_attempt_within_the_deadline_and_it_is_retried_once(
    smtp, settings
):
    settings.EMAIL_TOTAL_TIMEOUT = 1.0
    settings.EMAIL_TIMEOUT = 10.0  # a socket timeout alone would let the tarpit win
    smtp.tarpit = 4.0
    _email_subscribers(1)
    ids = _pending()

    started = time.monotonic()
    assert tasks.deliveries_send(ids) == 1
    took = time.monotonic() - started

    assert took < 2.0 < claims.claim_timeout().total_seconds()
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.RETRYING, 1)
    assert "took longer than 1 s" in delivery.attempts.get().error
    smtp.tarpit = 0.0
    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=2)):
        assert tasks.deliveries_send(ids) == 1
    time.sleep(4.0)  # until the stalled session has ended on the server's side too
    assert len(smtp.messages) == 1
    assert Delivery.objects.get().status == DeliveryStatus.SUCCEEDED
