"""The schedule in a real browser (Debian's Chromium): the Gantt chart on the process page
at desktop width, on a phone and in print, and the dashboard's at-risk panel. Screenshots go
to test-artifacts/."""

import pytest

from tracker.models import Milestone

from .test_browser import ARTIFACTS, _check_structure, _visit, browser, demo, pytestmark  # noqa: F401


def test_the_process_schedule_in_a_browser(demo, live_server, browser):  # noqa: F811
    page, problems = _visit(browser, f"{live_server.url}/processes/{demo.pk}/", width=1280)

    chart = page.locator("svg.gantt")
    assert chart.is_visible()
    assert page.locator("svg.gantt g.gantt-row").count() == demo.milestones.count()
    assert page.locator("svg.gantt g.gantt-row.is-at-risk").count() >= 1
    assert page.locator("svg.gantt g.gantt-row.is-critical").count() >= 2
    assert page.locator("svg.gantt line.today").count() == 1
    box = chart.bounding_box()
    assert 900 <= box["width"] <= 1280  # fills the column at 1280 px
    assert page.locator(".critical-path").is_visible()
    roadshow = Milestone.objects.get(process=demo, title="Roadshow launched")
    assert page.locator(f"#milestone-{roadshow.pk} .risk-reason").is_visible()
    _check_structure(page)
    page.screenshot(path=ARTIFACTS / "schedule-process.png", full_page=True)
    page.locator(".gantt-figure").screenshot(path=ARTIFACTS / "schedule-chart.png")

    page.emulate_media(media="print")
    assert (
        page.evaluate("getComputedStyle(document.querySelector('.gantt-scroll')).overflowX")
        == "visible"
    )
    page.screenshot(path=ARTIFACTS / "schedule-process-print.png", full_page=True)
    assert problems == []


def test_the_dashboard_at_risk_panel_in_a_browser(demo, live_server, browser):  # noqa: F811
    page, problems = _visit(browser, live_server.url + "/", width=1280)
    panel = page.locator("section.panel-risk")
    assert page.get_by_role("heading", name="At risk").is_visible()
    assert panel.get_by_role("link", name="Roadshow launched").is_visible()
    assert "Public S-1 filed slipped to" in panel.inner_text()
    page.screenshot(path=ARTIFACTS / "schedule-dashboard.png", full_page=True)
    assert problems == []


@pytest.mark.parametrize("path", ["process", "organization"])
def test_the_chart_fits_a_phone(demo, live_server, browser, path):  # noqa: F811
    url = {
        "process": f"/processes/{demo.pk}/",
        "organization": f"/organizations/{demo.organization.slug}/",
    }[path]
    page, problems = _visit(browser, live_server.url + url, width=390, height=844)

    # The page does not scroll sideways; the chart's own box does, keeping its text legible.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    chart = page.locator("svg.gantt").first
    assert chart.bounding_box()["width"] >= 780
    label_size = page.evaluate(
        "document.querySelector('svg.gantt .label').getBoundingClientRect().height"
    )
    assert label_size >= 10
    chart.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / f"schedule-{path}-phone.png")
    assert problems == []
