"""The pages in a real browser: Debian's Chromium, driven by Playwright, against the live
server with the demo data. Screenshots are saved under test-artifacts/ for people to look at."""

import os
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from tracker.models import Milestone, Process

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"Chromium is not installed at {CHROMIUM} (run `make browser`, or "
        "`apt-get install chromium`)",
    ),
]


@pytest.fixture
def demo(transactional_db):
    """The demo record; returns its IPO process (whose timeline the tests open)."""
    call_command("load_demo", stdout=StringIO())
    return Process.objects.get(organization__slug="openai", slug="ipo")


@pytest.fixture
def browser(monkeypatch):
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the live server's database
    # work happens in its own thread, so Django's async-safety check does not apply here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _visit(browser, url: str, *, width: int, height: int = 900):
    """Open ``url`` in a fresh page; returns the page and the problems it reported."""
    page = browser.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )
    response = page.goto(url, wait_until="networkidle")
    assert response.status == 200
    return page, problems


def _check_structure(page) -> None:
    assert page.locator("h1").count() == 1
    assert page.locator("main#main").count() == 1
    assert page.locator("header nav[aria-label='Main']").count() == 1
    # Every image has alt text (decorative ones an empty one).
    assert page.locator("img:not([alt])").count() == 0
    # The stylesheet arrived and applied (served locally: no CDN, no web font).
    assert page.evaluate("getComputedStyle(document.body).display") == "flex"


def test_dashboard_in_a_browser(demo, live_server, browser):
    page, problems = _visit(browser, live_server.url + "/", width=1280)

    assert page.get_by_role("heading", name="Dashboard", level=1).is_visible()
    assert page.get_by_role("heading", name="Active processes").is_visible()
    assert page.get_by_role(
        "link", name="Initial public offering (illustrative)", exact=True
    ).is_visible()
    assert page.get_by_role("heading", name="Next milestones").is_visible()
    assert page.get_by_role("heading", name="Latest changes").is_visible()
    assert page.get_by_text("milestones completed").first.is_visible()
    _check_structure(page)
    page.screenshot(path=ARTIFACTS / "dashboard.png", full_page=True)
    assert problems == []


def test_process_timeline_in_a_browser(demo, live_server, browser):
    s1 = Milestone.objects.get(process=demo, title="Public S-1 filed")
    page, problems = _visit(browser, f"{live_server.url}/processes/{demo.pk}/", width=1280)

    assert page.get_by_role(
        "heading", name="Initial public offering (illustrative)", level=1
    ).is_visible()
    assert page.get_by_role("heading", name="Timeline").is_visible()
    assert page.get_by_role("heading", name="Public S-1 filed").is_visible()
    assert page.get_by_role("heading", name="Recent history").is_visible()
    assert page.get_by_text("Form type").first.is_visible()
    _check_structure(page)
    page.screenshot(path=ARTIFACTS / "process.png", full_page=True)

    # Following a dependency link lands on that milestone on the same page.
    page.get_by_role("link", name="Public S-1 filed").first.click()
    assert page.url.endswith(f"/processes/{demo.pk}/#milestone-{s1.pk}")
    assert page.locator(f"#milestone-{s1.pk}:target").count() == 1
    assert problems == []


def test_pages_fit_a_phone_screen(demo, live_server, browser):
    for name, path in [("dashboard-phone", "/"), ("process-phone", f"/processes/{demo.pk}/")]:
        page, problems = _visit(browser, live_server.url + path, width=390, height=844)

        # Nothing wider than the screen: no sideways scrolling.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert page.locator("h1").is_visible()
        page.screenshot(path=ARTIFACTS / f"{name}.png")
        assert problems == []
