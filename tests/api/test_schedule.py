"""The schedule over the API: dependencies with gaps, forecasts, at-risk, the schedule
resource and its schema."""

import datetime
import json

import pytest
from django.utils import timezone

from tests.api.conftest import bearer
from tests.factories import ProcessFactory
from tracker.models import Event, MilestoneDependency, MilestoneStatus
from tracker.services.events import events_sequence_stamp
from tracker.services.milestones import Dependency, milestone_create, milestone_update

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()  # the services' today (TIME_ZONE), not the OS's


def day(offset: int) -> str:
    return (TODAY + datetime.timedelta(days=offset)).isoformat()


def _create(process, title, target, after=()):
    return milestone_create(
        actor="test",
        data={
            "process": process,
            "title": title,
            "target_date": datetime.date.fromisoformat(day(target)),
        },
        depends_on=[Dependency(m, gap) for m, gap in after],
    )


@pytest.fixture
def ipo():
    """Public filing (day 10) -> roadshow (15 days after; target day 25) -> pricing (10 days
    after the roadshow; target day 40), and a side step nothing waits on."""
    process = ProcessFactory(title="IPO")
    filing = _create(process, "Public filing", 10)
    roadshow = _create(process, "Roadshow", 25, [(filing, 15)])
    pricing = _create(process, "Pricing", 40, [(roadshow, 10)])
    side = _create(process, "Exchange chosen", 5)
    return process, filing, roadshow, pricing, side


def test_a_milestone_reads_its_gaps_forecast_and_risk(client, ipo):
    _, filing, roadshow, pricing, _ = ipo
    milestone_update(
        actor="test",
        milestone=filing,
        data={
            "status": MilestoneStatus.DELAYED,
            "target_date": datetime.date.fromisoformat(day(20)),
        },
    )
    body = client.get(f"/api/v1/milestones/{roadshow.pk}/").json()
    assert body["depends_on"] == [{"id": filing.pk, "min_gap_days": 15}]
    assert body["forecast_date"] == day(35)
    assert body["at_risk"] is True
    assert body["at_risk_reason"].startswith(f"Public filing slipped to {day(20)}; Roadshow needs")
    listed = client.get("/api/v1/milestones/", {"at_risk": "true"}).json()["results"]
    assert [m["id"] for m in listed] == [roadshow.pk, pricing.pk]


def test_depends_on_takes_objects_with_gaps_and_ids_keep_them(client, editor, ipo):
    _, filing, roadshow, pricing, side = ipo
    url = f"/api/v1/milestones/{pricing.pk}/"
    response = client.patch(
        url, {"depends_on": [roadshow.pk, {"id": side.pk, "min_gap_days": 60}]}, **bearer(editor)
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["depends_on"] == sorted(
        [{"id": roadshow.pk, "min_gap_days": 10}, {"id": side.pk, "min_gap_days": 60}],
        key=lambda d: d["id"],
    )
    assert body["forecast_date"] == day(65)
    assert body["at_risk"] is True


@pytest.mark.parametrize(
    ("depends_on", "field", "message"),
    [
        (
            [{"id": "FILING", "min_gap_days": -1}],
            "depends_on.0.min_gap_days",
            "greater than or equal to 0",
        ),
        (
            [{"id": "FILING", "min_gap_days": 3651}],
            "depends_on.0.min_gap_days",
            "less than or equal to 3650",
        ),
        ([{"id": "FILING", "gap": 3}], "depends_on.0.gap", "Unknown field"),
        ([{"min_gap_days": 3}], "depends_on.0.id", "This field is required"),
        ([10**12], "depends_on", "No milestone has the id(s) 1000000000000."),
        (
            ["FILING", {"id": "FILING", "min_gap_days": 2}],
            "depends_on",
            "Each milestone can be named once",
        ),
        (
            [{"id": "PRICING", "min_gap_days": 1}],
            "depends_on",
            "would form a cycle back to this milestone",
        ),
    ],
)
def test_bad_dependencies_are_400_and_nothing_changes(
    client, editor, ipo, depends_on, field, message
):
    _, filing, roadshow, pricing, _ = ipo
    # The placeholders name milestones of the fixture, whose ids are known only now.
    body = json.loads(
        json.dumps(depends_on)
        .replace('"FILING"', str(filing.pk))
        .replace('"PRICING"', str(pricing.pk))
    )
    events = Event.objects.count()
    links = list(MilestoneDependency.objects.values_list("milestone", "depends_on", "min_gap_days"))
    response = client.patch(
        f"/api/v1/milestones/{roadshow.pk}/",
        {"depends_on": body, "target_date": day(90)},
        **bearer(editor),
    )
    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert any(message in text for text in error["fields"][field]), error
    assert Event.objects.count() == events
    assert (
        list(MilestoneDependency.objects.values_list("milestone", "depends_on", "min_gap_days"))
        == links
    )
    roadshow.refresh_from_db()
    assert roadshow.target_date.isoformat() == day(25)


def test_the_schedule_lists_milestones_with_slip_risk_and_the_critical_path(client, ipo):
    process, filing, roadshow, pricing, side = ipo
    milestone_update(
        actor="test", milestone=filing, data={"target_date": datetime.date.fromisoformat(day(20))}
    )

    response = client.get(f"/api/v1/processes/{process.pk}/schedule/")

    assert response.status_code == 200
    body = response.json()
    assert body["process"] == process.pk
    assert body["end_date"] == day(45)
    assert body["critical_path"] == [filing.pk, roadshow.pk, pricing.pk]
    rows = {row["id"]: row for row in body["milestones"]}
    assert [row["id"] for row in body["milestones"]] == [
        filing.pk,
        roadshow.pk,
        pricing.pk,
        side.pk,
    ]
    assert rows[roadshow.pk] | {"at_risk_reason": ""} == {
        "id": roadshow.pk,
        "title": "Roadshow",
        "kind": "milestone",
        "status": "planned",
        "position": roadshow.position,
        "target_date": day(25),
        "forecast_date": day(35),
        "actual_date": None,
        "slip_days": 10,
        "at_risk": True,
        "at_risk_reason": "",
        "critical": True,
        "depends_on": [{"id": filing.pk, "min_gap_days": 15}],
    }
    assert rows[side.pk]["critical"] is False and rows[side.pk]["slip_days"] == 0
    assert rows[pricing.pk]["slip_days"] == 5


def test_the_schedule_of_an_unknown_process_is_404_and_parameters_are_refused(client, ipo):
    process = ipo[0]
    assert client.get("/api/v1/processes/999999/schedule/").status_code == 404
    response = client.get(f"/api/v1/processes/{process.pk}/schedule/", {"page": 2})
    assert response.status_code == 400


def test_the_schedule_needs_a_login_without_public_read(client, settings, ipo):
    settings.TRACKER_PUBLIC_READ = False
    assert client.get(f"/api/v1/processes/{ipo[0].pk}/schedule/").status_code == 401


def test_at_risk_events_are_filterable_in_the_feed(client, ipo):
    _, filing, roadshow, pricing, _ = ipo
    milestone_update(
        actor="test", milestone=filing, data={"target_date": datetime.date.fromisoformat(day(20))}
    )
    events_sequence_stamp()  # as the dispatcher does after commit
    events = client.get("/api/v1/events/", {"type": "milestone.at_risk"}).json()["results"]
    assert [e["milestone"]["id"] for e in events] == [roadshow.pk, pricing.pk]
    assert {e["type"] for e in events} == {"milestone.at_risk"}


def test_the_schema_has_the_schedule_and_the_new_fields(client):
    schema = client.get("/api/v1/schema/?format=json").json()
    components = schema["components"]["schemas"]
    milestone = components["Milestone"]["properties"]
    for name in ("forecast_date", "at_risk", "at_risk_reason"):
        assert milestone[name]["readOnly"] is True
    assert milestone["depends_on"]["items"]["required"] == ["id", "min_gap_days"]
    # The record has no per-caller visibility: the help says what is checked.
    help_text = components["PatchedMilestoneRequest"]["properties"]["depends_on"]["description"]
    assert "Any milestone of any process can be named; an unknown id" in help_text
    written = components["PatchedMilestoneRequest"]["properties"]["depends_on"]["items"]
    assert [branch["type"] for branch in written["oneOf"]] == ["integer", "object"]
    assert written["oneOf"][1]["properties"]["min_gap_days"]["maximum"] == 3650
    operation = schema["paths"]["/api/v1/processes/{id}/schedule/"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Schedule"
    }
    entry = components["ScheduleEntry"]["properties"]
    assert {
        "target_date",
        "forecast_date",
        "actual_date",
        "slip_days",
        "at_risk",
        "critical",
    } <= set(entry)
    assert "milestone.at_risk" in json.dumps(schema)
