"""/api/v1/me/: the caller's own account and time zone."""

import pytest

from tests.api.conftest import bearer
from tracker.models import AccountProfile

pytestmark = pytest.mark.django_db


def _error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"} and body["code"] == code
    return body


def test_anonymous_callers_get_401(client):
    _error(client.get("/api/v1/me/"), 401, "not_authenticated")
    _error(client.patch("/api/v1/me/", {"time_zone": "Europe/Paris"}), 401, "not_authenticated")


def test_reads_the_sites_time_zone_until_one_is_chosen(client, user, settings):
    response = client.get("/api/v1/me/", **bearer(user))
    assert response.status_code == 200
    assert response.json() == {
        "username": user.username,
        "email": user.email,
        "time_zone": settings.TIME_ZONE,
    }


def test_the_time_zone_is_changed_and_read_back(client, user):
    auth = bearer(user)
    response = client.patch("/api/v1/me/", {"time_zone": "America/New_York"}, **auth)
    assert response.status_code == 200
    assert response.json()["time_zone"] == "America/New_York"
    assert client.get("/api/v1/me/", **auth).json()["time_zone"] == "America/New_York"
    assert AccountProfile.objects.get(user=user).time_zone == "America/New_York"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "EST5EDT; DROP"}, "time_zone"),
        ({"time_zone": ""}, "time_zone"),
        ({"time_zone": "x" * 65}, "time_zone"),
        ({"time_zone": "Europe/Paris", "username": "root", "is_staff": True}, "is_staff"),
    ],
)
def test_bad_input_is_a_400_with_the_reason_and_nothing_is_saved(client, user, body, field):
    body = _error(client.patch("/api/v1/me/", body, **bearer(user)), 400, "invalid")
    assert field in body["fields"]
    assert not AccountProfile.objects.exists()
    user.refresh_from_db()
    assert not user.is_staff


def test_put_needs_the_time_zone(client, user):
    body = _error(client.put("/api/v1/me/", {}, **bearer(user)), 400, "invalid")
    assert "time_zone" in body["fields"]


def test_the_me_resource_is_in_the_schema(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    assert set(schema["paths"]["/api/v1/me/"]) >= {"get", "patch", "put"}
