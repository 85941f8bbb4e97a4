import datetime

import pytest
from django.urls import reverse
from icalendar import Calendar

from tracker.models import Milestone
from tracker.services.milestones import milestone_update


def _calendar(client, url: str) -> Calendar:
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    return Calendar.from_ical(response.content)


def _events(calendar: Calendar) -> dict[str, dict]:
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def test_calendar_has_one_all_day_event_per_milestone_with_a_target_date(client, record):
    calendar = _calendar(client, reverse("web_calendar"))

    assert str(calendar["VERSION"]) == "2.0"
    assert "Milestone Tracker" in str(calendar["PRODID"])
    events = _events(calendar)
    dated = Milestone.objects.exclude(target_date=None)
    assert set(events) == {f"milestone-{m.pk}@localhost" for m in dated}
    filing = events[f"milestone-{record.filing.pk}@localhost"]
    assert filing.decoded("DTSTART") == datetime.date(2026, 2, 20)
    assert filing.decoded("DTEND") == datetime.date(2026, 2, 21)
    assert str(filing["SUMMARY"]) == "Acme Labs: S-1 filed"
    assert filing.decoded("DTSTAMP") == record.filing.updated_at
    assert str(filing["URL"]) == (
        f"http://testserver/processes/{record.ipo.pk}/#milestone-{record.filing.pk}"
    )
    assert "Process: Acme IPO" in str(filing["DESCRIPTION"])


def test_milestone_without_a_target_date_is_left_out(client, record):
    events = _events(_calendar(client, reverse("web_calendar")))

    assert f"milestone-{record.undated.pk}@localhost" not in events


def test_event_status_follows_the_milestone(client, record):
    events = _events(_calendar(client, reverse("web_calendar")))

    def status(milestone):
        return str(events[f"milestone-{milestone.pk}@localhost"]["STATUS"])

    assert status(record.dropped) == "CANCELLED"
    assert status(record.board) == "CONFIRMED"
    assert status(record.review) == "TENTATIVE"


def test_sequence_rises_when_the_date_moves_and_the_uid_stays(client, record, editor):
    url = reverse("web_process_calendar", args=[record.ipo.pk])
    uid = f"milestone-{record.review.pk}@localhost"
    before = _events(_calendar(client, url))[uid]

    milestone_update(
        actor=editor, milestone=record.review, data={"target_date": datetime.date(2026, 4, 15)}
    )
    after = _events(_calendar(client, url))[uid]

    assert before["SEQUENCE"] == 0
    assert after["SEQUENCE"] > before["SEQUENCE"]
    assert after.decoded("DTSTART") == datetime.date(2026, 4, 15)
    # The filing's date moved once while the fixture was built.
    assert (
        _events(_calendar(client, url))[f"milestone-{record.filing.pk}@localhost"]["SEQUENCE"] == 1
    )


def test_cancelling_raises_the_sequence(client, record, editor):
    url = reverse("web_process_calendar", args=[record.ipo.pk])
    uid = f"milestone-{record.priced.pk}@localhost"
    before = _events(_calendar(client, url))[uid]

    milestone_update(actor=editor, milestone=record.priced, data={"status": "cancelled"})
    after = _events(_calendar(client, url))[uid]

    assert str(after["STATUS"]) == "CANCELLED"
    assert after["SEQUENCE"] > before["SEQUENCE"]


def test_unchanged_record_gives_the_same_calendar_bytes(client, record, time_machine):
    url = reverse("web_calendar")
    first = client.get(url).content
    time_machine.shift(datetime.timedelta(hours=5))

    assert client.get(url).content == first


def test_uid_host_comes_from_site_url(client, record, settings):
    settings.SITE_URL = "https://tracker.example.org"

    events = _events(_calendar(client, reverse("web_calendar")))

    assert f"milestone-{record.board.pk}@tracker.example.org" in events


def test_organization_calendar_has_only_its_milestones(client, record):
    events = _events(_calendar(client, reverse("web_organization_calendar", args=["other"])))

    assert set(events) == {f"milestone-{record.other_step.pk}@localhost"}


def test_process_calendar_has_only_its_milestones(client, record):
    calendar = _calendar(client, reverse("web_process_calendar", args=[record.ipo.pk]))

    expected = [record.board, record.filing, record.review, record.priced, record.dropped]
    assert set(_events(calendar)) == {f"milestone-{m.pk}@localhost" for m in expected}
    assert "Acme IPO" in str(calendar["X-WR-CALNAME"])


@pytest.mark.parametrize(
    "path", ["/organizations/nope/calendar.ics", "/processes/424242/calendar.ics"]
)
def test_calendar_of_something_unknown_is_a_404(client, db, path):
    assert client.get(path).status_code == 404


def test_unchanged_calendar_is_answered_with_304_and_a_changed_one_is_resent(
    client, record, editor
):
    url = reverse("web_process_calendar", args=[record.ipo.pk])
    first = client.get(url)
    etag = first["ETag"]

    assert client.get(url, headers={"if-none-match": etag}).status_code == 304

    milestone_update(actor=editor, milestone=record.review, data={"notes": "Hearing set."})
    changed = client.get(url, headers={"if-none-match": etag})

    assert changed.status_code == 200
    assert changed["ETag"] != etag
    review = _events(Calendar.from_ical(changed.content))[f"milestone-{record.review.pk}@localhost"]
    assert "Hearing set." in str(review["DESCRIPTION"])


@pytest.mark.parametrize("change", ["process", "organization", "delete", "move_out"])
def test_calendar_follows_every_kind_of_change(client, record, editor, change):
    from tracker.services.milestones import milestone_delete
    from tracker.services.organizations import organization_update
    from tracker.services.processes import process_update

    # The whole calendar's name does not change with these, so only the fingerprint can
    # tell; "move_out" needs a calendar that the milestone leaves.
    if change == "move_out":
        url = reverse("web_organization_calendar", args=["acme"])
    else:
        url = reverse("web_calendar")
    uid = f"milestone-{record.review.pk}@localhost"
    assert uid in _events(_calendar(client, url))  # now cached

    if change == "process":
        process_update(actor=editor, process=record.ipo, data={"title": "Acme listing"})
    elif change == "organization":
        organization_update(actor="tests", organization=record.acme, data={"name": "Acme Holdings"})
    elif change == "delete":
        milestone_delete(actor=editor, milestone=record.review.typed())
    else:
        milestone_update(
            actor=editor, milestone=record.review, data={"process": record.other_review}
        )
    events = _events(_calendar(client, url))

    if change == "process":
        assert "Process: Acme listing" in str(events[uid]["DESCRIPTION"])
    elif change == "organization":
        assert str(events[uid]["SUMMARY"]) == "Acme Holdings: Delaware AG review"
    else:
        assert uid not in events
