"""API keys with limits: read-only keys cannot write, expired keys are refused with the
reason, and last use is noted at most once a minute; API_REQUIRE_IF_MATCH makes writes
without If-Match a 428."""

import datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.api.conftest import bearer
from tests.factories import MilestoneFactory, OrganizationFactory
from tracker.models import ApiToken, Event, Milestone, Organization
from tracker.services.alerts import endpoint_create
from tracker.services.tokens import api_token_create

pytestmark = pytest.mark.django_db


def _error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code and body["message"]
    return body


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_read_only_key_cannot_write_even_for_an_editor(client, editor, method):
    milestone = MilestoneFactory(title="Original")
    auth = bearer(editor, scope="read")
    url = "/api/v1/milestones/" + ("" if method == "post" else f"{milestone.pk}/")

    response = getattr(client, method)(url, {"process": milestone.process_id, "title": "x"}, **auth)

    body = _error(response, 403, "read_only_key")
    assert "read-only" in body["message"]
    milestone.refresh_from_db()
    assert milestone.title == "Original" and Milestone.objects.count() == 1
    assert not Event.objects.exists()


def test_a_read_only_key_reads(client, editor, settings):
    settings.TRACKER_PUBLIC_READ = False
    MilestoneFactory()
    auth = bearer(editor, scope="read")
    assert client.get("/api/v1/milestones/", **auth).status_code == 200
    assert client.options("/api/v1/milestones/", **auth).status_code == 200


def test_a_read_only_key_cannot_touch_its_owners_endpoints_either(client, editor):
    endpoint = endpoint_create(owner=editor, data={"url": "https://hooks.example.com/x"})
    auth = bearer(editor, scope="read")
    response = client.post(f"/api/v1/webhook-endpoints/{endpoint.pk}/rotate-secret/", **auth)
    _error(response, 403, "read_only_key")


def test_a_read_write_key_writes(client, editor):
    response = client.post(
        "/api/v1/organizations/", {"name": "Acme", "slug": "acme"}, **bearer(editor, scope="write")
    )
    assert response.status_code == 201, response.content


def test_an_expired_key_is_refused_with_its_expiry(client, user, settings):
    settings.TRACKER_PUBLIC_READ = False
    expires_at = timezone.now() + datetime.timedelta(days=1)
    token, key = api_token_create(user=user, name="ci", scope="read", expires_at=expires_at)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    assert client.get("/api/v1/milestones/", **auth).status_code == 200

    with time_machine.travel(expires_at + datetime.timedelta(seconds=1)):
        response = client.get("/api/v1/milestones/", **auth)

    body = _error(response, 401, "token_expired")
    assert "expired" in body["message"] and f"{expires_at:%Y-%m-%d}" in body["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_key_cannot_be_made_already_expired(user):
    with pytest.raises(ValidationError) as error:
        api_token_create(
            user=user, name="x", scope="read", expires_at=timezone.now() - datetime.timedelta(1)
        )
    assert "expires_at" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        api_token_create(user=user, name="x", scope="admin")
    assert "scope" in error.value.message_dict
    assert not ApiToken.objects.exists()


def test_last_use_is_written_at_most_once_a_minute(client, user, settings):
    settings.TRACKER_PUBLIC_READ = False
    token, key = api_token_create(user=user, name="x", scope="read")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}

    def token_updates() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/api/v1/organizations/", **auth).status_code == 200
        return sum('UPDATE "tracker_apitoken"' in q["sql"] for q in queries.captured_queries)

    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert token_updates() == 1
        assert token_updates() == 0
    with time_machine.travel(start + datetime.timedelta(seconds=30), tick=False):
        assert token_updates() == 0
    with time_machine.travel(start + datetime.timedelta(seconds=61), tick=False):
        assert token_updates() == 1
    token.refresh_from_db()
    assert token.last_used_at == start + datetime.timedelta(seconds=61)


def test_admin_lists_scope_expiry_and_last_use(user, admin_client):
    expires_at = timezone.now() + datetime.timedelta(days=30)
    api_token_create(user=user, name="reporting", scope="read", expires_at=expires_at)
    api_token_create(user=user, name="importer", scope="write")

    page = admin_client.get("/admin/tracker/apitoken/").content.decode()

    for heading in ("Scope", "Expires at", "Last used at"):
        assert heading in page
    assert "Read only" in page and "Read and write" in page


def test_the_command_creates_a_read_only_key_that_expires(user):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command(
        "create_api_token", user.username, "--scope", "read", "--expires-in-days", "7",
        stdout=out, stderr=io.StringIO(),
    )  # fmt: skip
    token = ApiToken.objects.get(user=user)
    assert token.scope == "read"
    assert token.expires_at - timezone.now() > datetime.timedelta(days=6, hours=23)


# --- API_REQUIRE_IF_MATCH --------------------------------------------------------------------


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_writes_without_if_match_get_428_when_required(client, editor, settings, method):
    settings.API_REQUIRE_IF_MATCH = True
    organization = OrganizationFactory(name="Before")

    response = getattr(client, method)(
        f"/api/v1/organizations/{organization.pk}/",
        {"name": "After", "slug": organization.slug},
        **bearer(editor),
    )

    body = _error(response, 428, "precondition_required")
    assert "If-Match" in body["message"]
    organization.refresh_from_db()
    assert organization.name == "Before" and organization.version == 1


def test_writes_with_if_match_pass_when_required(client, editor, settings):
    settings.API_REQUIRE_IF_MATCH = True
    organization = OrganizationFactory(name="Before")
    url = f"/api/v1/organizations/{organization.pk}/"
    auth = bearer(editor)
    etag = client.get(url, **auth).headers["ETag"]

    assert client.patch(url, {"name": "After"}, HTTP_IF_MATCH=etag, **auth).status_code == 200
    stale = client.patch(url, {"name": "Again"}, HTTP_IF_MATCH=etag, **auth)
    _error(stale, 412, "precondition_failed")
    # Creating needs no If-Match: there is nothing to be stale about.
    created = client.post("/api/v1/organizations/", {"name": "New", "slug": "new"}, **auth)
    assert created.status_code == 201


def test_writes_without_if_match_pass_when_not_required(client, editor, settings):
    settings.API_REQUIRE_IF_MATCH = False
    organization = OrganizationFactory(name="Before")
    url = f"/api/v1/organizations/{organization.pk}/"
    auth = bearer(editor)

    assert client.patch(url, {"name": "After"}, **auth).status_code == 200
    assert client.delete(url, **auth).status_code == 204
    assert not Organization.objects.filter(pk=organization.pk).exists()


def test_the_schema_documents_428_on_conditional_writes(client):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    operations = schema["paths"]["/api/v1/organizations/{id}/"]
    assert "428" in operations["patch"]["responses"] and "428" in operations["delete"]["responses"]
    assert "428" not in operations["get"]["responses"]
