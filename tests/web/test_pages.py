import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tracker.models import MilestoneKind
from tracker.models.milestones import AgAuthority, IpoStepType
from tracker.services.milestones import milestone_create


def _text(response) -> str:
    """The page's visible text with whitespace collapsed, for phrase assertions."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", text).replace(" ,", ",").strip()


def _section(html: str, heading_id: str) -> str:
    """The HTML of the <section> whose heading has ``heading_id`` (nested sections included)."""
    start = html.rindex("<section", 0, html.index(f'id="{heading_id}"'))
    depth, position = 0, start
    for tag in re.finditer(r"<(/?)section\b", html[start:]):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            position = start + tag.end()
            break
    return html[start:position]


def test_dashboard_shows_active_processes_with_progress_next_and_overdue(client, record):
    response = client.get(reverse("web_dashboard"))

    assert response.status_code == 200
    text = _text(response)
    assert "Acme Labs" in text
    assert "Acme IPO" in text
    # Cancelled milestones are not counted: board (done), filing, review, priced, undated.
    assert "1 of 5 milestones completed" in text
    assert "1 overdue" in text
    # The next open milestone of the process is the overdue filing, the earliest target.
    assert "Next: S-1 filed, 20 Feb 2026" in text
    # A completed process is not among the active ones.
    processes = _section(response.content.decode(), "processes-heading")
    assert "Acme IPO" in processes and "Other review" in processes
    assert "Old restructuring" not in processes


def test_dashboard_highlights_overdue_and_lists_next_by_target_date(client, record):
    html = client.get(reverse("web_dashboard")).content.decode()

    overdue = _section(html, "overdue-heading")
    assert "S-1 filed" in overdue
    assert "Overdue by 10 days" in overdue
    assert "is-overdue" in overdue
    upcoming = _section(html, "upcoming-heading")
    titles = re.findall(r'#milestone-\d+">([^<]+)</a>', upcoming)
    assert titles == ["Other decision", "Delaware AG review", "IPO priced"]
    assert "S-1 filed" not in upcoming
    assert "Dual listing" not in upcoming  # cancelled


def test_dashboard_lists_latest_changes_from_the_event_log(client, record):
    html = client.get(reverse("web_dashboard")).content.decode()

    changes = _section(html, "changes-heading")
    assert "Milestone date changed: S-1 filed" in changes
    assert "by Eve Editor" in changes
    assert "Process created: Old restructuring" in changes
    assert "by importer:test (system)" in changes
    # Newest first.
    assert changes.index("Other decision") < changes.index("Milestone created: Board approval")


def test_dashboard_without_any_record_says_so(client, db):
    response = client.get(reverse("web_dashboard"))

    assert response.status_code == 200
    text = _text(response)
    assert "No active processes." in text
    assert "No changes recorded yet." in text


def test_process_page_shows_milestones_in_order_with_dates_and_slip(client, record):
    response = client.get(reverse("web_process", args=[record.ipo.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    titles = re.findall(r'class="milestone-title" id="milestone-\d+-title">([^<]+)<', html)
    assert titles == [
        "Board approval",
        "S-1 filed",
        "Delaware AG review",
        "IPO priced",
        "Dual listing",
        "Lock-up release",
    ]
    text = _text(response)
    assert "Target 10 Jan 2026 Actual 15 Jan 2026 Slip 5 days late" in text
    assert "Target 20 Feb 2026 Actual — Slip Overdue by 10 days" in text
    assert "Target 1 Apr 2026 Actual — Schedule Due in 30 days" in text
    assert "Target Not set" in text
    assert "1 of 5 milestones completed · 1 overdue" in text


def test_process_page_shows_typed_details_dependencies_and_sources(client, record):
    response = client.get(reverse("web_process", args=[record.ipo.pk]))

    html = response.content.decode()
    text = _text(response)
    # Filing, AG review and IPO step facts.
    assert "Form type S-1" in text
    assert "Accession or reference number 0001234567-26-000001" in text
    assert 'href="https://www.sec.gov/example-s1.htm"' in html
    assert "Authority Delaware Attorney General Stage Under review" in text
    assert "Conditions Keep the mission first." in text
    assert "Price range $40.00 – $44.00" in text
    assert "Shares offered 1,000,000" in text
    assert "Exchange Nasdaq" in text
    # Dependencies link to the milestone they wait for, with its status.
    assert f'href="#milestone-{record.board.pk}">Board approval</a> (completed)' in html
    priced = html[html.index(f'id="milestone-{record.priced.pk}"') :]
    assert f'href="#milestone-{record.filing.pk}">S-1 filed</a> (planned)' in priced
    assert f'href="#milestone-{record.review.pk}">Delaware AG review</a> (in progress)' in priced
    assert 'href="https://example.com/board-minutes"' in html


def test_process_page_shows_recent_history_with_who_when_and_what_changed(client, record):
    response = client.get(reverse("web_process", args=[record.ipo.pk]))

    history = _section(response.content.decode(), "history-heading")
    assert "Milestone date changed: S-1 filed" in history
    assert "by Eve Editor" in history
    assert 'datetime="2026-03-02T12:00:00+00:00"' in history
    change = re.sub(r"<[^>]+>", " ", history)
    change = re.sub(r"\s+", " ", change)
    assert "Target date: from 1 Feb 2026 → to 20 Feb 2026" in change
    # Another process's history is not mixed in.
    assert "Other decision" not in history


def test_dependency_in_another_process_links_to_that_process(client, record, editor):
    milestone_create(
        actor=editor,
        data={"process": record.other_review, "title": "Waits for Acme"},
        depends_on=[record.board],
    )

    html = client.get(reverse("web_process", args=[record.other_review.pk])).content.decode()

    assert (
        f'href="/processes/{record.ipo.pk}/#milestone-{record.board.pk}">Board approval</a>' in html
    )


def test_organization_page_shows_each_process_timeline_and_history(client, record):
    response = client.get(reverse("web_organization", args=["acme"]))

    assert response.status_code == 200
    html = response.content.decode()
    text = _text(response)
    assert "<h1>Acme Labs</h1>" in html
    assert "Ticker ACME" in text
    # Active processes first, then the others.
    assert html.index("Acme IPO") < html.index("Old restructuring")
    assert "S-1 filed" in html and "Overdue by 10 days" in text
    assert "Other decision" not in html
    history = _section(html, "history-heading")
    assert "Milestone date changed: S-1 filed" in history
    assert "Process created: Old restructuring" in history
    assert 'href="/feeds/events.atom?organization=acme"' in html
    assert 'href="/organizations/acme/calendar.ics"' in html


def test_organization_list_counts_processes(client, record):
    text = _text(client.get(reverse("web_organization_list")))

    assert "Acme Labs" in text and "2 processes, 1 active" in text
    assert "Other Corp" in text and "1 process, 1 active" in text


@pytest.mark.parametrize(
    "path",
    ["/organizations/nope/", "/processes/999999/", "/processes/99999999999999999999/"],
)
def test_unknown_organization_or_process_is_a_404_page(client, db, path):
    response = client.get(path)

    assert response.status_code == 404
    text = _text(response)
    assert "Not found" in text
    assert "There is no" in text


def test_unknown_address_is_a_404_page(client, db):
    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert "There is no page at this address." in _text(response)


def test_pages_link_the_stylesheet_from_static_files(client, record):
    html = client.get(reverse("web_dashboard")).content.decode()

    assert 'href="/static/tracker/site.css"' in html
    assert "http" not in re.findall(r'<link[^>]+rel="stylesheet"[^>]*>', html)[0]


def _add_milestones(process, actor, count: int) -> None:
    """More milestones of every kind, each depending on the one before it."""
    previous = None
    kinds = [
        (MilestoneKind.GENERIC, {}),
        (MilestoneKind.FILING, {"form_type": "8-K"}),
        (MilestoneKind.AG_REVIEW, {"authority": AgAuthority.CALIFORNIA}),
        (MilestoneKind.IPO_STEP, {"step": IpoStepType.LISTED}),
    ]
    for number in range(count):
        kind, extra = kinds[number % len(kinds)]
        previous = milestone_create(
            actor=actor,
            kind=kind,
            data={
                "process": process,
                "title": f"Extra {number}",
                "target_date": datetime.date(2026, 2, 1) + datetime.timedelta(days=number * 7),
                **extra,
            },
            depends_on=[previous] if previous else [],
        )


def _query_count(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "path",
    [
        "dashboard",
        "organization",
        "process",
        "calendar",
        "organization_calendar",
        "process_calendar",
        "feed",
    ],
)
def test_query_count_does_not_grow_with_the_number_of_milestones(client, record, editor, path):
    url = {
        "dashboard": reverse("web_dashboard"),
        "organization": reverse("web_organization", args=["acme"]),
        "process": reverse("web_process", args=[record.ipo.pk]),
        "calendar": reverse("web_calendar"),
        "organization_calendar": reverse("web_organization_calendar", args=["acme"]),
        "process_calendar": reverse("web_process_calendar", args=[record.ipo.pk]),
        "feed": reverse("web_events_feed") + f"?process={record.ipo.pk}",
    }[path]
    before = _query_count(client, url)

    _add_milestones(record.ipo, editor, 24)
    _add_milestones(record.finished, editor, 8)
    after = _query_count(client, url)

    assert after == before
    assert before <= 6


def test_server_error_page_stands_alone(rf):
    from django.views.defaults import server_error

    # Rendered without a request context or a database: it must not depend on either.
    response = server_error(rf.get("/"))

    assert response.status_code == 500
    html = response.content.decode()
    assert "Something went wrong" in html
    assert 'href="/static/tracker/site.css"' in html


def test_head_request_is_answered_without_a_body(client, record):
    response = client.head(reverse("web_process", args=[record.ipo.pk]))

    assert response.status_code == 200
    assert response.content == b""


def test_dashboard_says_when_the_overdue_list_is_cut_short(client, record, editor):
    from tracker.web.views import OVERDUE_LENGTH

    html = client.get(reverse("web_dashboard")).content.decode()
    assert "most overdue" not in html

    for number in range(OVERDUE_LENGTH):
        milestone_create(
            actor=editor,
            data={
                "process": record.ipo,
                "title": f"Late {number}",
                "target_date": datetime.date(2026, 1, 1) + datetime.timedelta(days=number),
            },
        )
    html = client.get(reverse("web_dashboard")).content.decode()

    overdue = _section(html, "overdue-heading")
    assert overdue.count("<li") == OVERDUE_LENGTH
    assert f"Showing the {OVERDUE_LENGTH} that are most overdue" in overdue
    assert "S-1 filed" not in overdue  # the 26th by date


def test_empty_organization_and_process_pages_say_so(client, db, editor):
    from tracker.services.organizations import organization_create
    from tracker.services.processes import process_create

    empty = organization_create(actor="tests", data={"name": "Quiet Inc", "slug": "quiet"})
    assert "No processes tracked for this organization yet." in _text(
        client.get(reverse("web_organization", args=["quiet"]))
    )

    process = process_create(
        actor=editor, data={"organization": empty, "kind": "other", "title": "Plans"}
    )
    text = _text(client.get(reverse("web_process", args=[process.pk])))
    assert "No milestones yet." in text
    assert "0 of 0 milestones completed" in text
    assert "Process created: Plans" in text
