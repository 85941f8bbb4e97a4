import io
import logging
import re

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from tests.factories import UserFactory
from tracker.models import ApiToken
from tracker.services.tokens import api_key_hash, api_token_create, api_token_revoke

pytestmark = pytest.mark.django_db


def test_create_stores_only_the_hash_and_returns_the_key_once(user):
    token, key = api_token_create(user=user, name="newsroom bot", scope="write")

    row = ApiToken.objects.get(pk=token.pk)
    assert key.startswith("mt_") and len(key) > 40
    assert row.key_hash == api_key_hash(key) != key
    assert key not in {row.prefix, row.name} and key.startswith(row.prefix)
    assert row.name == "newsroom bot" and row.is_active


def test_a_token_needs_a_name(user):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        api_token_create(user=user, name="  ", scope="write")
    assert "name" in error.value.message_dict
    assert not ApiToken.objects.exists()


def test_bearer_token_authenticates_and_notes_last_use(client, user, settings):
    settings.TRACKER_PUBLIC_READ = False
    token, key = api_token_create(user=user, name="dashboard", scope="write")

    response = client.get("/api/v1/milestones/", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert timezone.now() - token.last_used_at < timezone.timedelta(seconds=10)


def test_revoked_token_is_refused_with_401(client, user, settings):
    settings.TRACKER_PUBLIC_READ = False
    token, key = api_token_create(user=user, name="old", scope="write")
    api_token_revoke(token=token)

    response = client.get("/api/v1/milestones/", HTTP_AUTHORIZATION=f"Bearer {key}")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoking_twice_keeps_the_first_time(user):
    token, _ = api_token_create(user=user, name="x", scope="write")
    first = api_token_revoke(token=token).revoked_at
    assert api_token_revoke(token=token).revoked_at == first


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer a b", "Bearer mt_not-a-real-key", "Bearer ünïcode"],
)
def test_malformed_or_unknown_keys_get_401(client, header):
    response = client.get("/api/v1/milestones/", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "fields"}


def test_inactive_users_tokens_stop_working(client, user):
    _, key = api_token_create(user=user, name="x", scope="write")
    user.is_active = False
    user.save()
    assert client.get("/api/v1/events/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401


def test_command_prints_a_working_key(client, user, settings):
    settings.TRACKER_PUBLIC_READ = False
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "create_api_token",
        user.username,
        "--name",
        "ci",
        "--scope",
        "write",
        stdout=out,
        stderr=err,
    )

    key = out.getvalue().strip()
    token = ApiToken.objects.get(user=user)
    assert token.name == "ci" and token.key_hash == api_key_hash(key)
    assert "copy it now" in err.getvalue()
    response = client.get("/api/v1/milestones/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200


def test_command_fails_for_an_unknown_user():
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_token", "ghost", "--scope", "read")
    assert not ApiToken.objects.exists()


def test_admin_shows_the_key_once_on_its_own_page_and_revokes(user, caplog):
    client = Client()
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)

    with caplog.at_level(logging.DEBUG):
        response = client.post(
            "/admin/tracker/apitoken/add/",
            {
                "user": user.pk,
                "name": "from admin",
                "scope": "read",
                "expires_at_0": "",
                "expires_at_1": "",
            },
        )

    assert response.status_code == 200
    token = ApiToken.objects.get(user=user)
    assert (token.scope, token.expires_at) == ("read", None)
    key = re.search(r'<code class="shown-secret">(mt_[^<]+)</code>', response.content.decode())[1]
    assert api_key_hash(key) == token.key_hash
    assert "no-store" in response["Cache-Control"]
    # Not in a cookie (Django's messages would put it in one), nor in any log line.
    assert all(key not in morsel.value for morsel in response.cookies.values())
    assert all(key not in morsel.value for morsel in client.cookies.values())
    assert key not in caplog.text
    assert key not in client.get("/admin/tracker/apitoken/").content.decode()
    assert key not in client.get(f"/admin/tracker/apitoken/{token.pk}/change/").content.decode()

    client.post(
        "/admin/tracker/apitoken/",
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None
