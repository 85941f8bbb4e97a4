"""The admin: the dependency inline with minimum gaps, and at-risk in the list."""

import pytest
from django.urls import reverse

from tracker.models import Event, EventType, Milestone, MilestoneDependency

from .conftest import day

pytestmark = pytest.mark.django_db


@pytest.fixture
def editor_client(client, editor):
    client.force_login(editor)
    return client


def _post(milestone, links=(), **overrides):
    data = {
        "process": milestone.process_id,
        "title": milestone.title,
        "status": milestone.status,
        "target_date": milestone.target_date.isoformat(),
        "actual_date": "",
        "position": str(milestone.position),
        "source_url": "",
        "notes": "",
        "loaded_version": str(milestone.version),
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
        "dependency_links-TOTAL_FORMS": str(len(links)),
        "dependency_links-INITIAL_FORMS": "0",
    }
    for index, (depends_on, gap) in enumerate(links):
        data[f"dependency_links-{index}-depends_on"] = str(depends_on.pk)
        data[f"dependency_links-{index}-min_gap_days"] = str(gap)
    data.update(overrides)
    return data


def _change(editor_client, milestone, data):
    return editor_client.post(reverse("admin:tracker_milestone_change", args=[milestone.pk]), data)


def test_a_dependency_with_a_gap_is_added_inline_and_moves_the_forecast(editor_client, make):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 20)

    response = _change(editor_client, roadshow, _post(roadshow, [(filing, 15)]))

    assert response.status_code == 302, response.content.decode()[:3000]
    link = MilestoneDependency.objects.get()
    assert (link.milestone_id, link.depends_on_id, link.min_gap_days) == (
        roadshow.pk,
        filing.pk,
        15,
    )
    roadshow.refresh_from_db()
    assert (roadshow.forecast_date, roadshow.at_risk) == (day(25), True)
    assert Event.objects.filter(type=EventType.MILESTONE_AT_RISK, milestone_id=roadshow.pk).exists()


@pytest.mark.parametrize(
    ("gap", "message"),
    [("-1", "greater than or equal to 0"), ("3651", "less than or equal to 3650")],
)
def test_a_bad_gap_is_a_form_error_and_nothing_is_saved(editor_client, make, gap, message):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 20)
    events = Event.objects.count()

    response = _change(editor_client, roadshow, _post(roadshow, [(filing, gap)], title="Renamed"))

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not MilestoneDependency.objects.exists()
    assert Milestone.objects.get(pk=roadshow.pk).title == "Roadshow"
    assert Event.objects.count() == events


def test_the_same_dependency_twice_is_a_form_error(editor_client, make):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 20)
    response = _change(editor_client, roadshow, _post(roadshow, [(filing, 1), (filing, 2)]))
    assert response.status_code == 200
    assert "Please correct the duplicate data for depends_on" in response.content.decode()
    assert not MilestoneDependency.objects.exists()


def test_a_new_milestone_is_added_with_its_dependencies(editor_client, make, process):
    filing = make("Public filing", 10)
    data = _post(filing, [(filing, 15)], title="Roadshow", target_date=day(20).isoformat())
    del data["loaded_version"]
    response = editor_client.post(reverse("admin:tracker_milestone_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    roadshow = Milestone.objects.get(title="Roadshow")
    assert roadshow.forecast_date == day(25)
    assert list(roadshow.dependency_links.values_list("min_gap_days", flat=True)) == [15]


def test_the_list_shows_and_filters_milestones_at_risk(editor_client, make, editor):
    filing = make("Public filing", 20)
    make("Roadshow", 25, after=[(filing, 15)])
    make("Exchange chosen", 30)

    page = editor_client.get(reverse("admin:tracker_milestone_changelist"), {"at_risk__exact": "1"})

    html = page.content.decode()
    assert page.status_code == 200
    assert "Roadshow" in html and "Exchange chosen" not in html
    assert "Public filing is due on" in html  # the reason, as the flag's title


def test_the_change_page_shows_the_computed_schedule(editor_client, make):
    filing = make("Public filing", 20)
    roadshow = make("Roadshow", 25, after=[(filing, 15)])
    html = editor_client.get(
        reverse("admin:tracker_milestone_change", args=[roadshow.pk])
    ).content.decode()
    assert "Schedule (computed)" in html
    assert "needs 15 days after it" in html
    assert 'name="dependency_links-0-min_gap_days" value="15"' in html


def test_an_unknown_dependency_is_a_form_error(editor_client, make):
    roadshow = make("Roadshow", 20)
    data = _post(roadshow, title="Renamed")
    data.update(
        {
            "dependency_links-TOTAL_FORMS": "1",
            "dependency_links-0-depends_on": "999999",
            "dependency_links-0-min_gap_days": "3",
        }
    )
    response = _change(editor_client, roadshow, data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Milestone.objects.get(pk=roadshow.pk).title == "Roadshow"
    assert not MilestoneDependency.objects.exists()


def test_the_dependency_field_searches_rather_than_lists_every_milestone(editor_client, make):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 25, after=[(filing, 15)])
    make("Unrelated step", 30)

    html = editor_client.get(
        reverse("admin:tracker_milestone_change", args=[roadshow.pk])
    ).content.decode()

    assert "admin-autocomplete" in html
    assert f"/ {filing.process.title} / Public filing</option>" in html  # the chosen one
    assert "Unrelated step" not in html
    found = editor_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "tracker",
            "model_name": "milestonedependency",
            "field_name": "depends_on",
            "term": filing.process.organization.name,
        },
    ).json()
    assert {r["text"] for r in found["results"]} >= {"Public filing", "Unrelated step"}


def _existing_link(milestone, link, **row):
    return {
        "dependency_links-TOTAL_FORMS": "1",
        "dependency_links-INITIAL_FORMS": "1",
        "dependency_links-0-id": str(link.pk),
        "dependency_links-0-milestone": str(milestone.pk),
        "dependency_links-0-depends_on": str(link.depends_on_id),
        "dependency_links-0-min_gap_days": str(link.min_gap_days),
        **{f"dependency_links-0-{name}": value for name, value in row.items()},
    }


def test_an_existing_link_is_edited_inline(editor_client, make):
    filing = make("Public filing", 10)
    board = make("Board approval", 12)
    roadshow = make("Roadshow", 30, after=[(filing, 15)])
    link = MilestoneDependency.objects.get()

    data = _post(roadshow)
    data.update(_existing_link(roadshow, link, depends_on=str(board.pk), min_gap_days="20"))
    response = _change(editor_client, roadshow, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(MilestoneDependency.objects.values_list("depends_on_id", "min_gap_days")) == [
        (board.pk, 20)
    ]
    roadshow.refresh_from_db()
    assert (roadshow.forecast_date, roadshow.version) == (day(32), 2)
    changed = Event.objects.filter(milestone_id=roadshow.pk, type=EventType.MILESTONE_UPDATED)
    assert changed.get().changes["depends_on"] == [[filing.pk], [board.pk]]


def test_an_existing_link_is_deleted_inline(editor_client, make):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 20, after=[(filing, 15)])
    link = MilestoneDependency.objects.get()
    assert Milestone.objects.get(pk=roadshow.pk).at_risk

    data = _post(roadshow)
    data.update(_existing_link(roadshow, link, DELETE="on"))
    response = _change(editor_client, roadshow, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    assert not MilestoneDependency.objects.exists()
    roadshow.refresh_from_db()
    assert (roadshow.forecast_date, roadshow.at_risk) == (day(20), False)
    assert Event.objects.filter(
        milestone_id=roadshow.pk, type=EventType.MILESTONE_BACK_ON_TRACK
    ).exists()


def test_a_cycle_is_a_form_error(editor_client, make):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 25, after=[(filing, 15)])

    response = _change(editor_client, filing, _post(filing, [(roadshow, 0)], title="Renamed"))

    assert response.status_code == 200
    assert "would form a cycle back to this milestone" in response.content.decode()
    assert list(MilestoneDependency.objects.values_list("milestone", "depends_on")) == [
        (roadshow.pk, filing.pk)
    ]
    assert Milestone.objects.get(pk=filing.pk).title == "Public filing"
