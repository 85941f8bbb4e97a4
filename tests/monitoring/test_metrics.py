"""/metrics: Prometheus text, parsed with prometheus-client's own parser, whose figures
match the database, whichever process did the work or serves the scrape."""

import datetime
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import MilestoneFactory, OrganizationFactory, UserFactory
from tracker.models import Event
from tracker.models.alerts import Delivery, DeliveryAttempt, Digest, Subscription, WebhookEndpoint
from tracker.models.sources import EdgarSync
from tracker.services.milestones import milestone_update
from tracker.services.operations import task_run_record

TOKEN = "metrics-token-for-tests"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_NETWORKS = []
    return TOKEN


def _scrape(client) -> dict[str, dict]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return _parse(response.content.decode())


def _parse(text: str) -> dict[str, dict]:
    """{family name: {(sample name, sorted labels): value}}"""
    return {
        family.name: {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for sample in family.samples
        }
        for family in text_string_to_metric_families(text)
    }


@pytest.mark.django_db
def test_off_unless_a_token_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 404


@pytest.mark.django_db
def test_a_bearer_of_the_token_or_an_allowed_network_only(client, token, settings):
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200

    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1").status_code == 401
    # A forwarded-for header is the client's word, not where it connects from.
    assert (
        client.get(
            "/metrics", REMOTE_ADDR="192.168.1.1", HTTP_X_FORWARDED_FOR="10.1.2.3"
        ).status_code
        == 401
    )


def _delivery(endpoint, status, channel="webhook", **fields) -> Delivery:
    return Delivery.objects.create(
        owner=endpoint.owner,
        channel=channel,
        endpoint=endpoint if channel == "webhook" else None,
        event_type="webhook.test",
        message_id=f"msg_{Delivery.objects.count()}",
        status=status,
        **fields,
    )


@pytest.fixture
def activity(db):
    """A little of everything /metrics counts."""
    now = timezone.now()
    owner = UserFactory(email="owner@example.com")
    healthy = WebhookEndpoint.objects.create(owner=owner, url="https://a.example/", secret="s")
    WebhookEndpoint.objects.create(
        owner=owner, url="https://b.example/", secret="s", failing_since=now
    )
    WebhookEndpoint.objects.create(owner=owner, url="https://c.example/", secret="s", enabled=False)
    for status in ["succeeded"] * 3 + ["failed", "retrying", "pending"]:
        delivery = _delivery(healthy, status)
        for duration in (30, 700):
            DeliveryAttempt.objects.create(
                delivery=delivery, attempted_at=now, duration_ms=duration
            )
    # An attempt from before the histogram's window is not in it.
    DeliveryAttempt.objects.create(
        delivery=delivery, attempted_at=now - datetime.timedelta(hours=1), duration_ms=9
    )
    milestone = MilestoneFactory()
    for note in ("a", "b"):
        milestone_update(actor="tests", milestone=milestone, data={"notes": note})
    event = Event.objects.first()
    subscription = Subscription.objects.create(owner=owner, channel="email", cadence="daily")
    _delivery(healthy, "succeeded", channel="email", event=event, subscription=subscription)
    Digest.objects.create(
        subscription=subscription, cadence="daily", period_start=now, period_end=now
    )
    EdgarSync.objects.create(organization=OrganizationFactory(), status="failed", error="x")
    task_run_record(name="reminders_scan")
    task_run_record(name="reminders_scan", error="boom")
    task_run_record(name="edgar_sync", error="EDGAR answered 503")
    return now


def test_figures_match_the_database(client, token, activity, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        metrics = _scrape(client)

    deliveries = metrics["tracker_deliveries"]
    for status, channel in [("succeeded", "webhook"), ("retrying", "webhook"), ("held", "email")]:
        assert deliveries[("tracker_deliveries", (("channel", channel), ("status", status)))] == (
            Delivery.objects.filter(status=status, channel=channel).count()
        )
    assert sum(deliveries.values()) == Delivery.objects.count() == 7

    durations = metrics["tracker_delivery_attempt_duration_seconds"]
    webhook = (("channel", "webhook"),)
    recent = DeliveryAttempt.objects.filter(attempted_at__gte=activity)
    count, total = (
        f"tracker_delivery_attempt_duration_seconds_{name}" for name in ("gcount", "gsum")
    )
    assert metrics[count][(count, webhook)] == recent.count() == 12
    assert metrics[total][(total, webhook)] == (
        pytest.approx(sum(recent.values_list("duration_ms", flat=True)) / 1000)
    )
    bucket = ("tracker_delivery_attempt_duration_seconds_bucket",)
    assert durations[(*bucket, (("channel", "webhook"), ("le", "0.05")))] == 6
    assert durations[(*bucket, (("channel", "webhook"), ("le", "0.5")))] == 6
    assert durations[(*bucket, (("channel", "webhook"), ("le", "1")))] == 12
    assert durations[(*bucket, (("channel", "webhook"), ("le", "+Inf")))] == 12

    def value(name, **labels):
        # The parser names a counter's family without its "_total" sample suffix.
        return metrics[name.removesuffix("_total")][(name, tuple(sorted(labels.items())))]

    undispatched = Event.objects.filter(dispatched_at__isnull=True)
    assert value("tracker_events_undispatched") == undispatched.count() == 2
    oldest = min(undispatched.values_list("occurred_at", flat=True))
    assert value("tracker_events_undispatched_oldest_age_seconds") >= 0
    assert value("tracker_events_undispatched_oldest_age_seconds") <= (
        (timezone.now() - oldest).total_seconds()
    )
    assert value("tracker_webhook_endpoints_failing") == 1
    assert value("tracker_webhook_endpoints_disabled") == 1
    assert value("tracker_digests_pending") == Digest.objects.filter(status="pending").count() == 1
    assert value("tracker_edgar_organizations_failing") == 1
    assert value("tracker_task_runs_total", task="reminders_scan") == 2
    assert value("tracker_task_failures_total", task="reminders_scan") == 1
    assert value("tracker_task_runs_total", task="edgar_sync") == 1
    assert value("tracker_task_failures_total", task="edgar_sync") == 1
    assert value("tracker_task_runs_total", task="edgar_feed_poll") == 0
    assert value("tracker_task_last_run_timestamp_seconds", task="edgar_feed_poll") == 0


def _database_url() -> str:
    db = django_settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db.get('USER') or 'postgres'}{password}@{db.get('HOST') or '127.0.0.1'}:"
        f"{db.get('PORT') or 5432}/{db['NAME']}"
    )


def _run(code: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(),
        "METRICS_TOKEN": TOKEN,
    }
    script = f"import django; django.setup()\n{code}"
    return subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )


@pytest.mark.django_db(transaction=True)
def test_counters_add_up_across_worker_processes_and_agree_in_every_web_process(client, token):
    # Four "workers" count runs at once, in processes of their own.
    workers = [
        _run(
            "from tracker.services.operations import task_run_record\n"
            "for i in range(25):\n"
            "    task_run_record(name='reminders_scan', error='boom' if i % 5 == 0 else '')\n"
        )
        for _ in range(4)
    ]
    assert [worker.wait(60) for worker in workers] == [0, 0, 0, 0]

    here = _scrape(client)
    # Another "web process" serves the same figures.
    web = _run(
        "from django.test import Client\n"
        f"print(Client().get('/metrics', HTTP_AUTHORIZATION='Bearer {TOKEN}').content.decode())"
    )
    there = _parse(web.communicate(timeout=60)[0])

    runs = ("tracker_task_runs_total", (("task", "reminders_scan"),))
    failures = ("tracker_task_failures_total", (("task", "reminders_scan"),))
    assert here["tracker_task_runs"][runs] == there["tracker_task_runs"][runs] == 100
    assert here["tracker_task_failures"][failures] == 20
    assert there["tracker_task_failures"][failures] == 20
