"""The schedule on the pages: the SVG Gantt chart, the critical path, the at-risk panel and
the feed."""

import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from tracker.models import MilestoneStatus
from tracker.selectors.schedule import process_schedule
from tracker.services.events import events_sequence_stamp
from tracker.services.milestones import Dependency, milestone_update
from tracker.web.gantt import gantt_svg

from .conftest import TODAY, day

pytestmark = pytest.mark.django_db

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def slipped(make, editor, process):
    """Done (day -10) -> public filing slipped to day 20 -> roadshow (15 days after, target
    day 25) -> pricing; and an undated side note."""
    drafted = make("Confidential draft", -12)
    milestone_update(
        actor=editor,
        milestone=drafted,
        data={"status": MilestoneStatus.COMPLETED, "actual_date": day(-10)},
    )
    filing = make("Public filing <S-1>", 10, after=[(drafted, 0)])
    roadshow = make("Roadshow", 25, after=[(filing, 15)])
    pricing = make("Pricing", 40, after=[(roadshow, 10)])
    make("Someday", None)
    milestone_update(
        actor=editor,
        milestone=filing,
        data={"status": MilestoneStatus.DELAYED, "target_date": day(20)},
    )
    return process, drafted, filing, roadshow, pricing


def _svg(process) -> ET.Element:
    return ET.fromstring(str(gantt_svg(process_schedule(process=process), today=TODAY)))


def test_the_chart_is_valid_svg_with_a_titled_bar_per_dated_milestone(slipped):
    process, drafted, filing, roadshow, pricing = slipped
    svg = _svg(process)

    assert svg.tag == f"{SVG}svg" and svg.get("viewBox").startswith("0 0 960 ")
    rows = svg.findall(f"{SVG}g[@data-milestone]")
    assert [int(r.get("data-milestone")) for r in rows][:4] == [
        drafted.pk,
        filing.pk,
        roadshow.pk,
        pricing.pk,
    ]
    assert len(rows) == 5
    bars = {int(r.get("data-milestone")): r.find(f"{SVG}rect[@class='bar']") for r in rows}
    assert all(bars[m.pk] is not None for m in (drafted, filing, roadshow, pricing))
    title = bars[roadshow.pk].find(f"{SVG}title").text
    assert "Roadshow: target" in title and "10 days late" in title
    assert "At risk: Public filing <S-1> slipped to" in title  # escaped in the markup
    assert "On the critical path." in title
    assert svg.find(f"{SVG}title").text == f"Schedule of {process.title}"


def test_a_control_character_in_a_title_leaves_the_chart_valid(make, process, client):
    # The models accept a vertical tab; XML cannot hold one, even escaped.
    process.title = "IPO\x0c2027"
    process.save()
    make("Board\x0bapproval", 10)

    svg = _svg(process)

    row = svg.find(f"{SVG}g[@data-milestone]")
    assert row.find(f"{SVG}rect[@class='bar']/{SVG}title").text.startswith("Boardapproval:")
    assert svg.find(f"{SVG}title").text == "Schedule of IPO2027"
    assert client.get(reverse("web_process", args=[process.pk])).status_code == 200


def test_screen_readers_reach_each_bar_title(slipped):
    process, *_ = slipped
    svg = _svg(process)
    # role="img" would make the chart one opaque image, its bars' titles unread.
    assert svg.get("role") == "group"
    assert svg.get("aria-labelledby") == svg.find(f"{SVG}title").get("id")
    assert svg.get("aria-describedby") == svg.find(f"{SVG}desc").get("id")
    assert all(
        bar.find(f"{SVG}title").text for bar in svg.iter(f"{SVG}rect") if bar.get("class") == "bar"
    )


def test_the_chart_shows_slip_critical_path_arrows_and_today(slipped):
    process, drafted, filing, roadshow, pricing = slipped
    svg = _svg(process)
    row = {int(r.get("data-milestone")): r for r in svg.findall(f"{SVG}g[@data-milestone]")}

    assert "is-critical" in row[pricing.pk].get("class")
    assert "is-critical" in row[filing.pk].get("class")
    assert "is-at-risk" in row[roadshow.pk].get("class")
    assert "is-done" in row[drafted.pk].get("class")
    assert row[roadshow.pk].find(f"{SVG}rect[@class='slip']") is not None
    assert row[drafted.pk].find(f"{SVG}circle[@class='actual']") is not None
    arrows = svg.findall(f".//{SVG}path[@marker-end]")
    assert len(arrows) == 3
    # The filing's own (slipped) target decides it, not the draft: the path starts there.
    assert sum("is-critical" in a.get("class") for a in arrows) == 2
    assert "is-critical" not in row[drafted.pk].get("class")
    assert svg.find(f"{SVG}line[@class='today']") is not None


def test_a_process_without_dates_draws_no_chart(make, process):
    make("Someday", None)
    assert str(gantt_svg(process_schedule(process=process), today=TODAY)) == ""


def test_the_process_page_has_the_chart_the_critical_path_and_the_table(client, slipped):
    process, drafted, filing, roadshow, pricing = slipped
    html = client.get(reverse("web_process", args=[process.pk])).content.decode()

    assert html.index('<svg xmlns="http://www.w3.org/2000/svg"') < html.index('class="timeline"')
    assert "Public filing &lt;S-1&gt;" in html
    assert "Critical path" in html
    assert "2 at risk" in html
    assert "at least 15 days after it" in html
    assert "Roadshow needs 15 days after it" in html


def test_the_organization_page_draws_each_process(client, slipped):
    process = slipped[0]
    html = client.get(reverse("web_organization", args=[process.organization.slug])).content
    assert html.decode().count('class="gantt"') == 1


def test_the_dashboard_lists_milestones_at_risk(client, slipped):
    html = client.get(reverse("web_dashboard")).content.decode()
    panel = html[html.index('id="risk-heading"') :]
    assert "Roadshow" in panel and "Pricing" in panel
    assert "slipped to" in panel


def test_the_feed_shows_at_risk_with_its_reason(client, slipped):
    events_sequence_stamp()  # as the dispatcher does after commit
    response = client.get(reverse("web_events_feed"), {"type": "milestone.at_risk"})
    body = response.content.decode()
    assert response.status_code == 200
    # The draft was created after its target date (at risk until completed), then the slip.
    assert body.count("<entry>") == 3
    assert "Milestone at risk: Roadshow" in body
    assert "At risk:&lt;/strong&gt; Public filing" in body


def test_a_gap_change_reads_with_titles_in_the_history(client, make, editor, process):
    filing = make("Public filing", 10)
    roadshow = make("Roadshow", 20, after=[(filing, 0)])
    milestone_update(actor=editor, milestone=roadshow, data={}, depends_on=[Dependency(filing, 15)])
    html = client.get(reverse("web_process", args=[process.pk])).content.decode()
    assert "Minimum gaps" in html and "Public filing: 15 days" in html
