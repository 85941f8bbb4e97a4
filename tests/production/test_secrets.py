"""Webhook signing secrets: encrypted at rest, re-encrypted by rotate_encryption_key, and
shown once on a page of their own, never in a cookie or a log line."""

import importlib
import io
import logging
import re
from types import SimpleNamespace

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from tests.factories import UserFactory
from tracker.models import WebhookEndpoint
from tracker.services.alerts import endpoint_create, endpoint_rotate_secret

pytestmark = pytest.mark.django_db

migration = importlib.import_module("tracker.migrations.0012_secrets_encrypted_token_limits")
OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def raw_columns(endpoint) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT secret, previous_secret FROM tracker_webhookendpoint WHERE id = %s",
            [endpoint.pk],
        )
        return cursor.fetchone()


def endpoint_new(owner=None):
    return endpoint_create(
        owner=owner or UserFactory(), data={"url": "https://hooks.example.com/tracker"}
    )


def test_a_database_dump_does_not_hold_the_signing_secret(settings):
    endpoint = endpoint_rotate_secret(endpoint=endpoint_new())
    secret, previous = endpoint.secret, endpoint.previous_secret
    assert secret.startswith("whsec_") and previous.startswith("whsec_")

    raw_secret, raw_previous = raw_columns(endpoint)

    for raw, plain in ((raw_secret, secret), (raw_previous, previous)):
        assert plain not in raw and plain.removeprefix("whsec_") not in raw
        assert Fernet(settings.FIELD_ENCRYPTION_KEY[0]).decrypt(raw.encode()).decode() == plain
    # The application reads it back and signs with it.
    reloaded = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (reloaded.secret, reloaded.previous_secret) == (secret, previous)


def test_the_migration_encrypts_plaintext_secrets_once(settings):
    endpoint = endpoint_new()
    plain = "whsec_" + "A" * 43
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE tracker_webhookendpoint SET secret = %s, previous_secret = '' WHERE id = %s",
            [plain, endpoint.pk],
        )
    editor = SimpleNamespace(connection=connection)

    migration._secrets_encrypt(apps, editor)
    once = raw_columns(endpoint)
    migration._secrets_encrypt(apps, editor)  # again: already encrypted, left alone

    assert raw_columns(endpoint) == once
    assert once[0] != plain and once[1] == ""
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == plain


def test_rotate_encryption_key_moves_every_secret_to_the_first_key(settings):
    settings.FIELD_ENCRYPTION_KEY = [OLD_KEY]
    endpoints = [endpoint_rotate_secret(endpoint=endpoint_new()) for _ in range(3)]
    endpoints.append(endpoint_new())  # no previous secret
    plain = {e.pk: (e.secret, e.previous_secret) for e in endpoints}

    # The new key first, the old one still decrypting: nothing needs re-encrypting to work.
    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY, OLD_KEY]
    assert {e.pk: (e.secret, e.previous_secret) for e in WebhookEndpoint.objects.all()} == plain

    out = io.StringIO()
    call_command("rotate_encryption_key", "--batch-size", "2", stdout=out)
    assert "Re-encrypted 4 webhook endpoint(s)" in out.getvalue()
    assert "0 already used it" in out.getvalue()

    # After the rotation the new key alone opens everything.
    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY]
    assert {e.pk: (e.secret, e.previous_secret) for e in WebhookEndpoint.objects.all()} == plain
    for endpoint in endpoints:
        raw_secret, _ = raw_columns(endpoint)
        assert Fernet(NEW_KEY).decrypt(raw_secret.encode()).decode() == plain[endpoint.pk][0]

    # Idempotent: a second run changes nothing.
    before = [raw_columns(e) for e in endpoints]
    out = io.StringIO()
    call_command("rotate_encryption_key", stdout=out)
    assert "Re-encrypted 0 webhook endpoint(s)" in out.getvalue()
    assert "4 already used it" in out.getvalue()
    assert [raw_columns(e) for e in endpoints] == before


def test_rotate_encryption_key_without_the_old_key_changes_nothing(settings):
    settings.FIELD_ENCRYPTION_KEY = [OLD_KEY]
    first, second = endpoint_new(), endpoint_new()
    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY]
    before = [raw_columns(first), raw_columns(second)]

    with pytest.raises(CommandError, match=f"webhook endpoint {first.pk} opens with none"):
        call_command("rotate_encryption_key")

    assert [raw_columns(first), raw_columns(second)] == before


def _shown_secrets(response) -> list[str]:
    return re.findall(r'<code class="shown-secret">(whsec_[^<]+)</code>', response.content.decode())


def _assert_nowhere_but_the_page(secret, response, client, caplog):
    assert all(secret not in morsel.value for morsel in response.cookies.values())
    assert all(secret not in morsel.value for morsel in client.cookies.values())
    assert secret not in caplog.text
    assert "no-store" in response["Cache-Control"]
    # Shown once: not on the endpoint's pages afterwards.
    listing = client.get("/admin/tracker/webhookendpoint/")
    assert secret not in listing.content.decode()
    assert all(secret not in morsel.value for morsel in listing.cookies.values())


def test_admin_shows_a_new_secret_once_on_its_own_page(caplog):
    client = Client()
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)

    with caplog.at_level(logging.DEBUG):
        response = client.post(
            "/admin/tracker/webhookendpoint/add/",
            {
                "owner": admin.pk,
                "channel": "webhook",
                "url": "https://hooks.example.com/a",
                "enabled": "on",
            },
        )

    assert response.status_code == 200, response.content.decode()[:2000]
    endpoint = WebhookEndpoint.objects.get()
    assert _shown_secrets(response) == [endpoint.secret]
    _assert_nowhere_but_the_page(endpoint.secret, response, client, caplog)


def test_admin_rotation_shows_the_new_secrets_once_on_their_own_page(caplog):
    client = Client()
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    endpoints = [endpoint_new(admin), endpoint_new(admin)]

    with caplog.at_level(logging.DEBUG):
        response = client.post(
            "/admin/tracker/webhookendpoint/",
            {"action": "rotate_secret", "_selected_action": [e.pk for e in endpoints]},
        )

    assert response.status_code == 200
    rotated = {e.pk: WebhookEndpoint.objects.get(pk=e.pk) for e in endpoints}
    assert sorted(_shown_secrets(response)) == sorted(e.secret for e in rotated.values())
    for endpoint in endpoints:
        assert rotated[endpoint.pk].previous_secret == endpoint.secret
        _assert_nowhere_but_the_page(rotated[endpoint.pk].secret, response, client, caplog)


def test_the_api_returns_a_new_secret_in_the_body_only(caplog):
    from rest_framework.test import APIClient

    from tests.api.conftest import bearer

    owner = UserFactory()
    client = APIClient()
    with caplog.at_level(logging.DEBUG):
        created = client.post(
            "/api/v1/webhook-endpoints/", {"url": "https://hooks.example.com/api"},
            format="json", **bearer(owner),
        )  # fmt: skip
        rotated = client.post(
            f"/api/v1/webhook-endpoints/{created.json()['id']}/rotate-secret/", **bearer(owner)
        )
    assert created.status_code == 201 and rotated.status_code == 200, rotated.content
    for response in (created, rotated):
        secret = response.json()["secret"]
        assert secret.startswith("whsec_")
        assert all(secret not in morsel.value for morsel in response.cookies.values())
        assert secret not in caplog.text
    assert WebhookEndpoint.objects.get().secret == rotated.json()["secret"]


def test_the_subscription_page_offers_no_popup_that_would_hide_a_new_secret(admin_client):
    page = admin_client.get("/admin/tracker/subscription/add/").content.decode()
    assert 'id="add_id_endpoint"' not in page
    assert 'id="view_id_endpoint"' in page  # the widget is there, without its "add" link
