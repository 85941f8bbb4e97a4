"""/healthz says the process is up without touching anything; /readyz checks the database,
the broker (a real redis-server of the test's own, stopped and started again), beat's last
run and the age of the oldest undispatched event and overdue delivery."""

import datetime

import pytest
import time_machine
from django.utils import timezone

from tests.factories import MilestoneFactory, UserFactory
from tests.redis_server import Redis
from tracker import tasks
from tracker.alerts.dispatch import event_dispatch
from tracker.models import Event
from tracker.models.alerts import Delivery, WebhookEndpoint
from tracker.services.milestones import milestone_update


def test_healthz_answers_without_the_database(client):
    # No database marker: pytest-django fails any query made here.
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.content == b"ok\n"
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.fixture
def own_redis(settings):
    server = Redis().start()
    settings.CELERY_BROKER_URL = server.url
    yield server
    server.kill()


@pytest.fixture
def swept(db):
    """Beat's periodic sweep has just run (as a worker would run it)."""
    tasks.alerts_sweep()


def _ready(client) -> tuple[int, dict]:
    response = client.get("/readyz")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def _failing(document: dict) -> set[str]:
    return {name for name, check in document["checks"].items() if not check["ok"]}


def test_ready_when_everything_is_within_its_threshold(client, swept, own_redis):
    status, document = _ready(client)

    assert status == 200, document
    assert document["status"] == "ok"
    checks = document["checks"]
    assert set(checks) == {
        "database",
        "broker",
        "beat",
        "undispatched_events",
        "overdue_deliveries",
    }
    assert 0 <= checks["beat"]["age_seconds"] < 60
    assert checks["beat"]["max_age_seconds"] == 60
    assert checks["undispatched_events"] == {
        "ok": True,
        "count": 0,
        "oldest_age_seconds": None,
        "max_age_seconds": 300,
    }


def test_broker_stopped_is_503_and_recovers_when_it_is_back(client, swept, own_redis):
    assert _ready(client)[0] == 200

    own_redis.kill()
    status, document = _ready(client)

    assert status == 503
    assert document["status"] == "unavailable"
    assert _failing(document) == {"broker"}
    assert "connecting to 127.0.0.1" in document["checks"]["broker"]["error"]

    own_redis.start()
    status, document = _ready(client)
    assert status == 200, document


def test_an_event_left_undispatched_past_its_threshold_is_503(client, swept, own_redis, settings):
    settings.READYZ_UNDISPATCHED_EVENT_MAX_AGE = 30
    milestone = MilestoneFactory()
    milestone_update(actor="tests", milestone=milestone, data={"notes": "waiting"})
    event = Event.objects.get()
    assert _ready(client)[0] == 200  # just committed: its doorbell has time

    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=45), tick=False):
        tasks.alerts_sweep()  # beat is alive; the event still waits (no worker dispatched it)
        status, document = _ready(client)
        assert status == 503
        assert _failing(document) == {"undispatched_events"}
        backlog = document["checks"]["undispatched_events"]
        assert backlog["count"] == 1
        assert backlog["oldest_age_seconds"] >= 45

        event_dispatch(event_id=event.pk)
        assert _ready(client)[0] == 200


def test_beat_that_never_ran_or_stopped_is_503(client, db, own_redis):
    status, document = _ready(client)
    assert status == 503
    assert document["checks"]["beat"] == {
        "ok": False,
        "last_run_at": None,
        "age_seconds": None,
        "max_age_seconds": 60,
        "error": "The periodic sweep has never run.",
    }

    tasks.alerts_sweep()
    assert _ready(client)[0] == 200

    with time_machine.travel(timezone.now() + datetime.timedelta(seconds=61), tick=False):
        status, document = _ready(client)
    assert _failing(document) == {"beat"}


def test_a_delivery_overdue_past_its_threshold_is_503(client, swept, own_redis, settings):
    settings.READYZ_OVERDUE_DELIVERY_MAX_AGE = 120
    owner = UserFactory()
    endpoint = WebhookEndpoint.objects.create(owner=owner, url="https://x.example/", secret="s")
    due = timezone.now()
    Delivery.objects.create(
        owner=owner,
        channel="webhook",
        endpoint=endpoint,
        event_type="webhook.test",
        message_id="msg_overdue",
        status="retrying",
        next_attempt_at=due,
    )
    assert _ready(client)[0] == 200

    with time_machine.travel(due + datetime.timedelta(seconds=121), tick=False):
        tasks.alerts_sweep()
        status, document = _ready(client)

    assert status == 503
    assert _failing(document) == {"overdue_deliveries"}
    assert document["checks"]["overdue_deliveries"]["oldest_age_seconds"] == 121
