import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from tracker.models import Event, EventType
from tracker.services.events import events_sequence_stamp
from tracker.services.processes import process_delete

ATOM = "{http://www.w3.org/2005/Atom}"
SEQUENCE = "{urn:milestone-tracker:feed}sequence"


def _feed(client, query: str = ""):
    response = client.get(reverse("web_events_feed") + query)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/atom+xml")
    return ET.fromstring(response.content)


def _entries(feed) -> list[dict]:
    return [
        {
            "id": entry.findtext(f"{ATOM}id"),
            "title": entry.findtext(f"{ATOM}title"),
            "link": entry.find(f"{ATOM}link").get("href"),
            "author": entry.findtext(f"{ATOM}author/{ATOM}name"),
            "category": entry.find(f"{ATOM}category").get("term"),
            "summary": entry.findtext(f"{ATOM}summary"),
            "updated": entry.findtext(f"{ATOM}updated"),
        }
        for entry in feed.findall(f"{ATOM}entry")
    ]


def test_feed_lists_every_event_newest_first_with_the_event_uuid_as_id(client, record):
    feed = _feed(client)

    entries = _entries(feed)
    events = list(Event.objects.order_by("-id"))
    assert [e["id"] for e in entries] == [f"urn:uuid:{event.uuid}" for event in events]
    assert feed.findtext(f"{ATOM}title") == "Milestone Tracker: changes"
    assert feed.findtext(f"{ATOM}updated").startswith("2026-03-02T12:00:00")
    # Fetching again gives the same ids: readers do not see duplicates.
    assert [e["id"] for e in _entries(_feed(client))] == [e["id"] for e in entries]


def test_entries_carry_the_feed_sequence_and_unstamped_events_wait(client, record):
    # An event committed but not yet stamped (its dispatch has not run) is not served: the
    # feed must never show it below a sequence a reader has already seen.
    process_delete(actor="test", process=record.finished)
    sequences = [int(e.findtext(SEQUENCE)) for e in _feed(client).findall(f"{ATOM}entry")]
    stamped = list(Event.objects.filter(sequence__isnull=False).order_by("-sequence"))
    assert sequences == [event.sequence for event in stamped]
    assert Event.objects.filter(sequence__isnull=True).count() == 1

    events_sequence_stamp()
    newest = _feed(client).find(f"{ATOM}entry")
    assert int(newest.findtext(SEQUENCE)) == sequences[0] + 1
    assert newest.findtext(f"{ATOM}title") == "Process deleted: Old restructuring"


def test_feed_entry_links_to_the_milestone_on_its_process_page(client, record):
    entries = _entries(_feed(client, f"?type={EventType.MILESTONE_DATE_CHANGED}"))

    assert len(entries) == 1
    entry = entries[0]
    assert entry["title"] == "Milestone date changed: S-1 filed"
    assert (
        entry["link"]
        == f"http://testserver/processes/{record.ipo.pk}/#milestone-{record.filing.pk}"
    )
    assert entry["author"] == "Eve Editor"
    assert entry["category"] == "milestone.date_changed"
    assert entry["updated"].startswith("2026-03-02T12:00:00")
    assert "Target date: 1 Feb 2026 → 20 Feb 2026" in entry["summary"]
    assert "in Acme Labs: Acme IPO" in entry["summary"]


def test_feed_filters_by_organization(client, record):
    entries = _entries(_feed(client, "?organization=other"))

    assert {e["title"] for e in entries} == {
        "Organization created: Other Corp",
        "Process created: Other review",
        "Milestone created: Other decision",
    }


def test_feed_filters_by_process(client, record):
    entries = _entries(_feed(client, f"?process={record.finished.pk}"))

    assert [e["title"] for e in entries] == ["Process created: Old restructuring"]


def test_feed_filters_by_repeated_type_and_combines_filters(client, record):
    query = "?organization=acme&type=process.created&type=milestone.date_changed"
    feed = _feed(client, query)

    titles = [e["title"] for e in _entries(feed)]
    assert titles == [
        "Milestone date changed: S-1 filed",
        "Process created: Old restructuring",
        "Process created: Acme IPO",
    ]
    # A filtered feed is a feed of its own to a reader: its own id and self link.
    assert feed.findtext(f"{ATOM}id") == f"http://testserver/feeds/events.atom{query}"
    assert "Acme Labs" in feed.findtext(f"{ATOM}title")


def test_empty_filter_values_mean_no_filter(client, record):
    entries = _entries(_feed(client, "?organization=&process=&type="))

    assert len(entries) == Event.objects.count()


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("?organization=nope", "No organization has the slug 'nope'."),
        ("?organization=%00", "'organization' must be an organization's slug"),
        ("?organization=acme&organization=other", "Give at most one 'organization'"),
        ("?process=abc", "'process' must be a process id"),
        ("?process=0", "'process' must be a process id"),
        ("?process=-3", "'process' must be a process id"),
        ("?process=99999999999999999999", "'process' must be a process id"),
        ("?process=٣", "'process' must be a process id"),
        ("?process=987654", "No process has the id 987654."),
        ("?type=milestone.created&type=bogus", "Unknown event type 'bogus'."),
    ],
)
def test_bad_filter_is_a_400_with_the_reason(client, record, query, reason):
    response = client.get(reverse("web_events_feed") + query)

    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert reason in response.content.decode()


def test_feed_of_a_deleted_process_keeps_its_history(client, record, editor):
    process_id = record.other_review.pk
    process_delete(actor=editor, process=record.other_review)
    events_sequence_stamp()

    entries = _entries(_feed(client, f"?process={process_id}"))

    assert [e["title"] for e in entries][:2] == [
        "Process deleted: Other review",
        "Milestone deleted: Other decision",
    ]
    # The process page is gone, so entries link to the dashboard instead of a 404.
    assert {e["link"] for e in entries} == {"http://testserver/"}


def test_feed_is_limited_to_the_latest_fifty_events(client, record, editor):
    from tracker.services.milestones import milestone_update

    for day in range(1, 60):
        milestone_update(actor=editor, milestone=record.undated, data={"notes": f"Revision {day}"})
    events_sequence_stamp()

    entries = _entries(_feed(client))

    assert len(entries) == 50
    assert entries[0]["id"] == f"urn:uuid:{Event.objects.order_by('-id').first().uuid}"
