import datetime

import pytest
import time_machine

from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _inside_one_window():
    # The counters are fixed windows: a test straddling a minute boundary would get a fresh
    # budget half-way. Stand still a few seconds into a minute.
    with time_machine.travel(
        datetime.datetime(2026, 1, 5, 12, 0, 5, tzinfo=datetime.UTC), tick=False
    ):
        yield


def test_anonymous_clients_are_throttled_with_retry_after(client, settings):
    settings.API_THROTTLE_RATES = {"anon": "3/minute", "token": "100/minute"}

    statuses = [client.get("/api/v1/milestones/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    response = client.get("/api/v1/milestones/")
    assert response.json()["code"] == "throttled"
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_each_token_has_its_own_budget(client, user, other_user, settings):
    settings.API_THROTTLE_RATES = {"anon": "100/minute", "token": "2/minute"}
    first, second = bearer(user, "a"), bearer(user, "b")

    assert [client.get("/api/v1/events/", **first).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    assert client.get("/api/v1/events/", **second).status_code == 200
    assert client.get("/api/v1/events/", **bearer(other_user)).status_code == 200
    # Being throttled with a token leaves the anonymous budget alone, and vice versa.
    assert client.get("/api/v1/events/").status_code == 200


def test_counters_are_shared_through_redis(client, settings):
    """Two web processes see one budget: the counter is in Redis, not in process memory."""
    from tracker.api import throttles

    settings.API_THROTTLE_RATES = {"anon": "2/minute", "token": "100/minute"}
    client.get("/api/v1/events/")
    throttles._cache_for.cache_clear()  # as if a second process, with its own connection
    client.get("/api/v1/events/")
    assert client.get("/api/v1/events/").status_code == 429


def test_an_unreachable_throttle_store_lets_requests_through(client, settings):
    settings.API_THROTTLE_CACHE_URL = "redis://127.0.0.1:1/0"
    settings.API_THROTTLE_RATES = {"anon": "1/minute", "token": "1/minute"}
    assert [client.get("/api/v1/events/").status_code for _ in range(3)] == [200, 200, 200]
