"""python manage.py edgar_sync (issue point 3)."""

import json
from io import StringIO

import pytest
from django.core.checks import run_checks
from django.core.management import CommandError, call_command
from django.test import override_settings

from tests.factories import OrganizationFactory
from tests.record.test_settings import load
from tracker import tasks
from tracker.models import Event, IpoStep, Milestone, Process
from tracker.sources.edgar.ratelimit import LocalRateLimiter, RedisRateLimiter, rate_limiter

from .edgar_data import CIK, ipo_rows, page_entry, row, submissions

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("edgar_sync", *args, stdout=out)
    return out.getvalue()


def test_it_syncs_followed_organizations_and_prints_what_it_did(edgar, company):
    OrganizationFactory(name="Not followed", cik="0000001002")
    edgar.company(CIK, submissions(CIK, list(ipo_rows().values())))

    output = run()

    assert output.startswith("Example Therapeutics (CIK 0001766140): Found 14 IPO filings;")
    assert "  imported S-1 " in output
    assert "  advanced Registration effective" in output
    assert "Not followed" not in output
    assert run() == "Example Therapeutics (CIK 0001766140): Unchanged since the last sync.\n"


def test_cik_selects_organizations(edgar, company):
    other = OrganizationFactory(name="Other", cik="0000001002")
    edgar.company(1002, submissions(1002, [row("S-1", "2021-05-03", file_number="333-1")]))

    output = run("--cik", "1002")

    assert output.startswith("Other (CIK 0000001002): Found 1 IPO filing;")
    assert Process.objects.get().organization == other


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cik", "12x"], "A CIK is 1 to 10 digits"),
        (["--cik", "4242"], "No organization has CIK 0000004242"),
        (["--file", "/nonexistent/CIK.json"], "Cannot read /nonexistent/CIK.json"),
    ],
)
def test_bad_input_exits_with_a_message_and_writes_nothing(edgar, company, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert edgar.requests == [] and not Milestone.objects.exists()


def test_a_missing_user_agent_stops_before_any_request(edgar, company, settings):
    settings.EDGAR_USER_AGENT = ""

    with pytest.raises(CommandError, match="EDGAR_USER_AGENT is not set"):
        run()
    assert edgar.requests == []


def test_file_applies_a_saved_document_without_fetching(edgar, company, tmp_path):
    path = tmp_path / "CIK0001766140.json"
    path.write_text(json.dumps(submissions(CIK, list(ipo_rows().values()))))

    output = run("--file", str(path))

    assert "Found 14 IPO filings" in output and edgar.requests == []
    assert IpoStep.objects.filter(step="priced", status="completed").exists()
    assert "page files" not in output


def test_file_says_that_the_page_files_it_lists_are_not_read(edgar, company, tmp_path):
    old = [row("S-1", "2019-05-03", file_number="333-200000")]
    recent = [row("S-1/A", "2019-06-03", file_number="333-200000")]
    path = tmp_path / "CIK0001766140.json"
    path.write_text(json.dumps(submissions(CIK, recent, files=[page_entry(CIK, 1, old)])))

    output = run("--file", str(path))

    assert "page files listed in the document are not read with --file" in output
    assert edgar.requests == []


def test_file_that_is_not_a_submissions_document_is_refused(company, tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"cik": "1766140", "filings": {"recent": {"form": [')

    with pytest.raises(CommandError, match="is not an EDGAR submissions document"):
        run("--file", str(path))
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps(submissions(4242, [])))
    with pytest.raises(CommandError, match="No organization has CIK 0000004242"):
        run("--file", str(unknown))
    assert not Event.objects.exists()


def test_a_failed_organization_makes_the_command_fail_after_the_others(edgar, company):
    OrganizationFactory(name="Healthy", cik="0000001002", follow_edgar=True)
    edgar.company(1002, submissions(1002, [row("S-1", "2021-05-03", file_number="333-1")]))
    out = StringIO()

    with pytest.raises(CommandError, match="1 of 2 organizations failed to sync"):
        call_command("edgar_sync", stdout=out)

    assert "Example Therapeutics (CIK 0001766140): EDGAR knows no company" in out.getvalue()
    assert "Healthy (CIK 0000001002): Found 1 IPO filing" in out.getvalue()


def test_an_unexpected_error_is_recorded_per_organization_and_the_others_go_on(edgar, company):
    other = OrganizationFactory(name="Other", cik="0000001002", follow_edgar=True)
    out = StringIO()

    # The rate limiter's Redis is unreachable: not a failure the sync expects.
    with (
        override_settings(REDIS_URL="redis://127.0.0.1:1/0"),
        pytest.raises(CommandError, match="2 of 2 organizations failed to sync"),
    ):
        call_command("edgar_sync", stdout=out)

    for organization in (company, other):
        organization.edgar_sync.refresh_from_db()
        assert organization.edgar_sync.error.startswith("internal error: ConnectionError")
    assert "Other (CIK 0000001002): internal error: ConnectionError" in out.getvalue()


def test_a_missing_user_agent_is_a_system_check_warning_once_someone_follows_edgar(settings):
    settings.EDGAR_USER_AGENT = ""
    assert not [m for m in run_checks() if m.id == "tracker.W001"]

    OrganizationFactory(cik="0001766140", follow_edgar=True)

    warnings = [m for m in run_checks() if m.id == "tracker.W001"]
    assert len(warnings) == 1 and "EDGAR_USER_AGENT" in warnings[0].hint
    settings.EDGAR_USER_AGENT = "Example Corp ops@example.com"
    assert not [m for m in run_checks() if m.id == "tracker.W001"]


def test_beat_without_a_user_agent_logs_an_error(settings, caplog):
    settings.EDGAR_USER_AGENT = ""
    OrganizationFactory(cik="0001766140", follow_edgar=True)

    assert tasks.edgar_feed_poll() == 0

    assert [r.levelname for r in caplog.records if "EDGAR_USER_AGENT" in r.getMessage()] == [
        "ERROR"
    ]


@pytest.mark.parametrize("rate", ["0", "11"])
def test_a_request_rate_outside_what_the_sec_allows_is_refused_at_startup(rate):
    result = load("test", EDGAR_MAX_REQUESTS_PER_SECOND=rate)

    assert result.returncode != 0
    assert "EDGAR_MAX_REQUESTS_PER_SECOND must be 1 to 10" in result.stderr
    assert f"not {rate}." in result.stderr


def test_the_rate_limit_is_shared_through_redis_url_whatever_the_broker(settings):
    settings.CELERY_BROKER_URL = "amqp://broker.internal//"
    assert isinstance(rate_limiter(), RedisRateLimiter)
    settings.CELERY_BROKER_URL = "filesystem://"  # the demo: no Redis
    assert isinstance(rate_limiter(), LocalRateLimiter)
