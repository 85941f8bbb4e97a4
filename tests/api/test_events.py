import pytest

from tests.api.conftest import bearer
from tests.factories import MilestoneFactory, OrganizationFactory, ProcessFactory
from tracker.models import Event
from tracker.services.events import events_sequence_stamp
from tracker.services.milestones import milestone_create, milestone_update
from tracker.snapshots import event_payload

pytestmark = pytest.mark.django_db


def _events(count: int, process=None):
    process = process or ProcessFactory()
    milestone = milestone_create(actor="test", data={"process": process, "title": "M"})
    for index in range(count - 1):
        milestone_update(actor="test", milestone=milestone, data={"notes": f"note {index}"})
    events_sequence_stamp()  # as the dispatcher does after commit
    return list(Event.objects.filter(process=process).order_by("sequence"))


def test_each_item_is_the_webhook_payload(client):
    events = _events(3)
    results = client.get("/api/v1/events/").json()["results"]
    assert results == [event_payload(e) for e in events]
    detail = client.get(f"/api/v1/events/{events[0].sequence}/").json()
    assert detail == event_payload(events[0])


def test_newest_last_and_the_cursor_resumes_without_gaps_or_repeats(client):
    events = _events(7)
    seen, url = [], "/api/v1/events/?page_size=3"
    while url:
        page = client.get(url).json()
        seen += [item["sequence"] for item in page["results"]]
        url = page["next"]
    assert seen == [e.sequence for e in events]


def test_after_resumes_from_the_last_sequence_seen(client):
    events = _events(4)
    page = client.get(f"/api/v1/events/?after={events[1].sequence}").json()
    assert [item["sequence"] for item in page["results"]] == [e.sequence for e in events[2:]]

    later = _events(2)
    page = client.get(f"/api/v1/events/?after={events[-1].sequence}").json()
    assert [item["sequence"] for item in page["results"]] == [e.sequence for e in later]


def test_filters_by_type_organization_and_process(client):
    acme = OrganizationFactory(slug="acme")
    ours = _events(3, ProcessFactory(organization=acme))
    _events(2)

    def sequences(query):
        response = client.get(f"/api/v1/events/?{query}")
        assert response.status_code == 200, response.content
        return [item["sequence"] for item in response.json()["results"]]

    assert sequences("organization=acme") == [e.sequence for e in ours]
    assert sequences(f"process={ours[0].process_id}") == [e.sequence for e in ours]
    assert sequences("type=milestone.created&organization=acme") == [ours[0].sequence]
    assert sequences(f"milestone={ours[0].milestone_id}") == [e.sequence for e in ours]


@pytest.mark.parametrize(
    "query", ["type=milestone.exploded", "after=x", "cursor=garbage", "ordering=-id", "foo=1"]
)
def test_bad_parameters_are_4xx_with_a_reason(client, query):
    response = client.get(f"/api/v1/events/?{query}")
    assert response.status_code in (400, 404)
    assert response.json()["message"]


def test_events_survive_the_deletion_of_what_they_describe(client, editor):
    milestone = MilestoneFactory()
    client.delete(f"/api/v1/milestones/{milestone.pk}/", **bearer(editor))
    events_sequence_stamp()
    results = client.get(f"/api/v1/events/?milestone={milestone.pk}").json()["results"]
    assert [item["type"] for item in results] == ["milestone.deleted"]
    assert results[0]["milestone"]["title"] == milestone.title


def test_the_feed_is_read_only(client, editor):
    event = _events(1)[0]
    auth = bearer(editor)
    assert client.delete(f"/api/v1/events/{event.sequence}/", **auth).status_code == 405
    assert client.patch(f"/api/v1/events/{event.sequence}/", {}, **auth).status_code == 405
    assert Event.objects.filter(pk=event.pk).exists()
