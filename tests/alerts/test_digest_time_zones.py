"""Digests go out at the digest hour in each subscriber's own time zone, cover the
subscriber's own days, and their emails show times in that zone."""

import datetime
import json
import zoneinfo

import pytest
import time_machine
from django.core import mail

from tests.factories import MilestoneFactory, UserFactory
from tracker import tasks
from tracker.alerts import chat
from tracker.alerts.digests import digest_period
from tracker.models import Event
from tracker.models.alerts import Digest
from tracker.services.accounts import account_time_zone_update
from tracker.services.alerts import endpoint_create, subscription_create
from tracker.services.milestones import milestone_update

pytestmark = pytest.mark.django_db

ZONE_NAME = "Asia/Tokyo"
TOKYO = zoneinfo.ZoneInfo(ZONE_NAME)
UTC = datetime.UTC


def _subscriber(name: str, zone: str | None):
    user = UserFactory(username=name, email=f"{name}@example.com")
    if zone:
        account_time_zone_update(user=user, time_zone=zone)
    subscription_create(owner=user, data={"channel": "email", "cadence": "daily"})
    return user


def _change_at(moment: datetime.datetime, milestone) -> Event:
    with time_machine.travel(moment, tick=False):
        milestone_update(actor="importer:test", milestone=milestone, data={"status": "delayed"})
        event = Event.objects.filter(milestone_id=milestone.pk).latest("id")
        tasks.event_dispatch(event.pk)
    return event


def test_each_subscriber_gets_the_digest_at_the_digest_hour_in_their_own_zone(settings):
    settings.TIME_ZONE = "UTC"
    settings.ALERTS_DIGEST_HOUR = 7
    tokyo = _subscriber("tokyo", "Asia/Tokyo")
    london = _subscriber("site", None)  # the site's zone, UTC
    milestone = MilestoneFactory()
    # 12:00 UTC on 2 March is 21:00 on 2 March in Tokyo.
    _change_at(datetime.datetime(2026, 3, 2, 12, 0, tzinfo=UTC), milestone)

    def hourly_beat(at: datetime.datetime) -> list[str]:
        with time_machine.travel(at, tick=False):
            tasks.digests_build("daily")
        return sorted(m.to[0] for m in mail.outbox)

    # 22:00 UTC on 2 March is 07:00 on 3 March in Tokyo: Tokyo's digest of its 2 March.
    assert hourly_beat(datetime.datetime(2026, 3, 2, 22, 0, tzinfo=UTC)) == [tokyo.email]
    assert hourly_beat(datetime.datetime(2026, 3, 2, 23, 0, tzinfo=UTC)) == [tokyo.email]
    # 07:00 UTC on 3 March: the site-zone subscriber's.
    assert hourly_beat(datetime.datetime(2026, 3, 3, 7, 0, tzinfo=UTC)) == sorted(
        [tokyo.email, london.email]
    )
    tokyo_digest = Digest.objects.get(subscription__owner=tokyo)
    assert tokyo_digest.period_start == datetime.datetime(2026, 3, 2, tzinfo=TOKYO)
    assert tokyo_digest.period_end == datetime.datetime(2026, 3, 3, tzinfo=TOKYO)


def test_the_digest_lists_what_happened_on_the_subscribers_own_day(settings):
    settings.TIME_ZONE = "UTC"
    _subscriber("tokyo", "Asia/Tokyo")
    milestone = MilestoneFactory()
    # 16:00 UTC on 2 March is already 01:00 on 3 March in Tokyo: not in its 2 March digest.
    _change_at(datetime.datetime(2026, 3, 2, 16, 0, tzinfo=UTC), milestone)

    with time_machine.travel(datetime.datetime(2026, 3, 2, 22, 0, tzinfo=UTC), tick=False):
        assert tasks.digests_build("daily") == 0
    with time_machine.travel(datetime.datetime(2026, 3, 3, 22, 0, tzinfo=UTC), tick=False):
        assert tasks.digests_build("daily") == 1
    [message] = mail.outbox
    # Times and days in Tokyo's time: 01:00 JST on 3 March.
    assert "2026-03-03 01:00 JST" in message.body
    assert "from 2026-03-03 to 2026-03-04" in message.body
    assert "UTC" not in message.body


def test_weekly_digests_go_out_on_the_weekday_in_the_subscribers_zone(settings):
    settings.TIME_ZONE = "UTC"
    settings.ALERTS_DIGEST_WEEKDAY = 0  # Monday
    user = UserFactory(username="la", email="la@example.com")
    account_time_zone_update(user=user, time_zone="America/Los_Angeles")
    subscription_create(owner=user, data={"channel": "email", "cadence": "weekly"})
    _change_at(datetime.datetime(2026, 3, 4, 18, 0, tzinfo=UTC), MilestoneFactory())

    # Monday 9 March, 07:00 in Los Angeles (PDT since 8 March) is 14:00 UTC.
    with time_machine.travel(datetime.datetime(2026, 3, 9, 7, 0, tzinfo=UTC), tick=False):
        assert tasks.digests_build("weekly") == 0
    with time_machine.travel(datetime.datetime(2026, 3, 9, 14, 0, tzinfo=UTC), tick=False):
        assert tasks.digests_build("weekly") == 1
    digest = Digest.objects.get()
    la = zoneinfo.ZoneInfo("America/Los_Angeles")
    assert digest.period_start == datetime.datetime(2026, 3, 2, tzinfo=la)
    # A week across the change to summer time: local midnight to local midnight.
    assert digest.period_end == datetime.datetime(2026, 3, 9, tzinfo=la)


def test_digest_period_in_a_zone():
    start, end = digest_period("daily", datetime.datetime(2026, 3, 2, 22, 0, tzinfo=UTC), TOKYO)
    assert (start, end) == (
        datetime.datetime(2026, 3, 2, tzinfo=TOKYO),
        datetime.datetime(2026, 3, 3, tzinfo=TOKYO),
    )


def test_an_immediate_email_shows_times_in_the_subscribers_zone(settings):
    settings.TIME_ZONE = "UTC"
    user = UserFactory(username="tokyo", email="tokyo@example.com")
    account_time_zone_update(user=user, time_zone=ZONE_NAME)
    subscription_create(owner=user, data={"channel": "email"})
    _change_at(datetime.datetime(2026, 3, 2, 16, 30, tzinfo=UTC), MilestoneFactory())

    [message] = mail.outbox
    assert "2026-03-03 01:30 JST" in message.body
    assert "01:30 JST" in message.alternatives[0][0]
    assert "UTC" not in message.body


def test_a_chat_digest_is_dated_in_its_owners_time_zone():
    # The period is Tokyo's 28 November, which begins on the 27th in UTC (the site's zone).
    user = UserFactory(username="tokyo", email="tokyo@example.com")
    account_time_zone_update(user=user, time_zone=ZONE_NAME)
    endpoint = endpoint_create(
        owner=user,
        data={"channel": "slack", "url": "https://hooks.slack.com/services/T0/B0/abc"},
    )
    subscription = subscription_create(
        owner=user, data={"channel": "slack", "endpoint": endpoint, "cadence": "daily"}
    )
    start = datetime.datetime(2026, 11, 28, tzinfo=TOKYO)
    digest = Digest(
        subscription=subscription,
        cadence="daily",
        period_start=start,
        period_end=start + datetime.timedelta(days=1),
    )

    body = json.loads(chat.chat_digest_body(digest, []))

    assert "2026-11-28 to 2026-11-29" in json.dumps(body)
    assert "2026-11-27" not in json.dumps(body)
