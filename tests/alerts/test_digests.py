"""Daily and weekly digests: held deliveries, one email per period, grouped by process."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.core.mail.backends import locmem
from django.utils import timezone

from tests.factories import MilestoneFactory, ProcessFactory
from tracker import tasks
from tracker.alerts import claims, recording, sweep
from tracker.alerts.digests import digest_period, digests_build
from tracker.alerts.messages import event_item
from tracker.alerts.reminders import reminder_record
from tracker.models import Event, EventType
from tracker.models.alerts import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Digest,
    DigestStatus,
)
from tracker.services.alerts import subscription_create, subscription_update
from tracker.services.milestones import milestone_update

pytestmark = pytest.mark.django_db


def _tomorrow() -> datetime.datetime:
    # Computed when a test runs, not when the module is imported: a long run would
    # otherwise carry a stale "tomorrow" (or cross midnight) into later tests.
    return timezone.now() + datetime.timedelta(days=1)


def _change(milestone, **data):
    milestone_update(actor="importer:test", milestone=milestone, data=data)
    event = Event.objects.filter(milestone_id=milestone.pk).latest("id")
    tasks.event_dispatch(event.pk)
    return event


@pytest.fixture
def daily(owner):
    return subscription_create(owner=owner, data={"channel": "email", "cadence": "daily"})


def test_digest_deliveries_are_held_not_sent(daily):
    _change(MilestoneFactory(), status="delayed")
    assert Delivery.objects.get().status == DeliveryStatus.HELD
    assert not mail.outbox


def test_a_daily_digest_groups_changes_by_process_and_lists_a_milestone_once(daily):
    conversion = ProcessFactory(title="Conversion to a PBC")
    ipo = ProcessFactory(title="Initial public offering")
    review = MilestoneFactory(process=conversion, title="Delaware AG review")
    _change(review, status="in_progress")
    # A later date: a passed one would also put the review at risk (a fourth event).
    _change(review, target_date=datetime.date.today() + datetime.timedelta(days=60))
    _change(MilestoneFactory(process=ipo, title="Confidential draft"), status="delayed")

    [digest_id] = digests_build(cadence="daily", now=_tomorrow())
    assert tasks.digest_send(digest_id) is True

    [message] = mail.outbox
    assert message.subject == "[Tracker] Daily digest: 3 changes"
    text = message.body
    assert text.index("Conversion to a PBC ==") < text.index("Initial public offering ==")
    assert text.count("* Delaware AG review") == 1  # one entry, both changes under it
    assert "status: planned -> in_progress" in text
    assert "target date:" in text
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Conversion to a PBC" in message.alternatives[0][0]
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}


def test_building_twice_makes_one_digest_and_sending_twice_one_email(daily):
    _change(MilestoneFactory(), status="delayed")
    first = digests_build(cadence="daily", now=_tomorrow())
    assert digests_build(cadence="daily", now=_tomorrow()) == []
    assert Digest.objects.count() == 1
    assert tasks.digest_send(first[0]) is True
    assert tasks.digest_send(first[0]) is False
    assert len(mail.outbox) == 1


def test_nothing_in_the_period_means_no_digest(daily):
    assert digests_build(cadence="daily", now=_tomorrow()) == []
    assert not mail.outbox


def test_todays_changes_wait_for_tomorrows_digest(daily):
    _change(MilestoneFactory(), status="delayed")
    assert digests_build(cadence="daily", now=timezone.now()) == []
    assert Delivery.objects.get().status == DeliveryStatus.HELD


def test_the_digest_task_builds_and_sends_at_the_digest_hour(daily, time_machine, settings):
    _change(MilestoneFactory(), status="delayed")
    at_hour = timezone.localtime(_tomorrow()).replace(
        hour=settings.ALERTS_DIGEST_HOUR, minute=0, second=5
    )
    # Beat runs the task hourly: an hour before the digest hour it builds nothing.
    time_machine.move_to(at_hour - datetime.timedelta(hours=1), tick=False)
    assert tasks.digests_build("daily") == 0
    time_machine.move_to(at_hour, tick=True)
    assert tasks.digests_build("daily") == 1
    assert tasks.digests_build("daily") == 0
    assert len(mail.outbox) == 1


def test_a_weekly_digest_covers_last_monday_to_monday():
    wednesday = timezone.make_aware(datetime.datetime(2025, 10, 29, 9, 0))
    start, end = digest_period("weekly", wednesday)
    assert (start.date(), end.date()) == (datetime.date(2025, 10, 20), datetime.date(2025, 10, 27))
    start, end = digest_period("daily", wednesday)
    assert (start.date(), end.date()) == (datetime.date(2025, 10, 28), datetime.date(2025, 10, 29))


class ReclaimingBackend(locmem.EmailBackend):
    """Mail that takes so long that the sweep reclaims the digest and another worker claims
    it before this send returns."""

    def send_messages(self, messages):
        Digest.objects.update(
            status=DigestStatus.SENDING, claimed_at=timezone.now() + datetime.timedelta(hours=1)
        )
        return super().send_messages(messages)


def test_a_stale_claims_result_does_not_overwrite_a_newer_claim(daily, settings):
    _change(MilestoneFactory(), status="delayed")
    [digest_id] = digests_build(cadence="daily", now=_tomorrow())
    settings.EMAIL_BACKEND = "tests.alerts.test_digests.ReclaimingBackend"

    assert tasks.digest_send(digest_id) is False

    digest = Digest.objects.get()
    assert (digest.status, digest.attempt_count) == (DigestStatus.SENDING, 0)
    assert Delivery.objects.get().status == DeliveryStatus.HELD
    assert not DeliveryAttempt.objects.exists()


def test_a_weekly_digest_ends_on_the_configured_weekday(settings):
    settings.ALERTS_DIGEST_WEEKDAY = 4  # Friday
    friday = timezone.make_aware(datetime.datetime(2025, 10, 31, 7, 0))
    start, end = digest_period("weekly", friday)
    assert (start.date(), end.date()) == (datetime.date(2025, 10, 24), datetime.date(2025, 10, 31))
    wednesday = timezone.make_aware(datetime.datetime(2025, 10, 29, 9, 0))
    start, end = digest_period("weekly", wednesday)
    assert (start.date(), end.date()) == (datetime.date(2025, 10, 17), datetime.date(2025, 10, 24))


def test_emails_name_the_time_zone_their_times_are_in(owner, settings):
    settings.TIME_ZONE = "America/New_York"
    subscription_create(owner=owner, data={"channel": "email"})
    event = _change(MilestoneFactory(), status="delayed")
    [message] = mail.outbox
    local = timezone.localtime(event.occurred_at)
    assert local.strftime("%Y-%m-%d %H:%M %Z") in message.body  # EST or EDT
    assert "UTC" not in message.body
    assert local.strftime("%H:%M %Z") in message.alternatives[0][0]


def test_days_left_are_counted_in_the_sites_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    milestone = MilestoneFactory(target_date=datetime.date(2025, 10, 28))
    # 02:00 UTC on the 28th is still the evening of the 27th in New York: one day left.
    with time_machine.travel(datetime.datetime(2025, 10, 28, 2, 0, tzinfo=datetime.UTC)):
        event = reminder_record(
            milestone=milestone, type=EventType.MILESTONE_DEADLINE_APPROACHING, dedupe_key="k"
        )
    assert event_item(event)["days_left"] == 1


def test_switching_to_immediate_releases_what_was_held(daily, owner):
    _change(MilestoneFactory(), status="delayed")
    subscription_update(subscription=daily, data={"cadence": "immediate"})
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    tasks.deliveries_send([delivery.pk])
    assert len(mail.outbox) == 1


def test_a_digest_that_kills_its_worker_every_time_ends_failed(daily, settings):
    _change(MilestoneFactory(), status="delayed")
    [digest_id] = digests_build(cadence="daily", now=_tomorrow())
    now = timezone.now()
    for _ in settings.WEBHOOK_RETRY_SCHEDULE:
        now += datetime.timedelta(seconds=11)  # due again (retry steps of 1 and 10 s)
        assert claims.digest_claim(digest_id=digest_id, now=now) is not None
        now += claims.claim_timeout() + datetime.timedelta(seconds=1)  # its worker is gone
        with time_machine.travel(now):
            assert sweep.alerts_sweep().reclaimed == 1

    digest = Digest.objects.get()
    assert (digest.status, digest.attempt_count) == (DigestStatus.FAILED, 3)
    assert digest.error == recording.WORKER_LOST
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert [a.error for a in delivery.attempts.all()] == [recording.WORKER_LOST] * 3
    assert not mail.outbox


def test_the_sweep_does_not_queue_a_due_digest_on_every_sweep(daily, settings):
    settings.ALERTS_SWEEP_REQUEUE_GRACE = 30
    _change(MilestoneFactory(), status="delayed")
    digests_build(cadence="daily", now=_tomorrow())  # its task sends it; here it did not
    start = timezone.now()

    def sweep_at(seconds):
        with time_machine.travel(start + datetime.timedelta(seconds=seconds)):
            return sweep.alerts_sweep().digests

    assert sweep_at(5) == 0  # left to the task that built it
    assert sweep_at(31) == 1
    assert sweep_at(36) == 0  # not again while it may still be in the queue
    assert sweep_at(62) == 1
