"""Webhook signing secrets encrypted at rest; API keys get a scope and an optional expiry;
events name a user by a display name, never a username or address."""

from django.conf import settings
from django.db import migrations, models

import tracker.encryption


def _secrets_encrypt(apps, schema_editor):
    # Raw SQL: the historical model would decrypt on read, and these values are plaintext.
    # A value some configured key already opens is left alone, so running this twice (or on
    # a copy of already-encrypted data) changes nothing.
    connection = schema_editor.connection
    table = connection.ops.quote_name("tracker_webhookendpoint")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, secret, previous_secret FROM {table}")
        rows = cursor.fetchall()
        for pk, secret, previous in rows:
            values = [_encrypted(secret), _encrypted(previous)]
            if values != [secret, previous]:
                cursor.execute(
                    f"UPDATE {table} SET secret = %s, previous_secret = %s WHERE id = %s",
                    [*values, pk],
                )


def _encrypted(value):
    if not value:
        return value
    try:
        tracker.encryption.decrypt(value)
    except (tracker.encryption.InvalidToken, UnicodeEncodeError):
        return tracker.encryption.encrypt(value)
    return value


def _secrets_decrypt(apps, schema_editor):
    connection = schema_editor.connection
    table = connection.ops.quote_name("tracker_webhookendpoint")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, secret, previous_secret FROM {table}")
        for pk, secret, previous in cursor.fetchall():
            cursor.execute(
                f"UPDATE {table} SET secret = %s, previous_secret = %s WHERE id = %s",
                [
                    tracker.encryption.decrypt(secret) if secret else secret,
                    tracker.encryption.decrypt(previous) if previous else previous,
                    pk,
                ],
            )


def _display_name(first_name, last_name, pk):
    full = f"{first_name} {last_name}".strip()
    return full or f"Editor #{pk}"


def _actor_names_public(apps, schema_editor):
    # Events kept the username, which public payloads (API, Atom, webhooks) showed.
    Event = apps.get_model("tracker", "Event")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    actor_ids = Event.objects.filter(actor__isnull=False).values("actor_id").distinct()
    for user in User.objects.filter(pk__in=actor_ids).only("pk", "first_name", "last_name"):
        Event.objects.filter(actor_id=user.pk).update(
            actor_name=_display_name(user.first_name, user.last_name, user.pk)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("tracker", "0011_chat_channels"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=tracker.encryption.EncryptedTextField(editable=False),
        ),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="previous_secret",
            field=tracker.encryption.EncryptedTextField(blank=True, editable=False),
        ),
        migrations.RunPython(_secrets_encrypt, _secrets_decrypt),
        migrations.AddField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[("read", "Read only"), ("write", "Read and write")],
                default="write",
                max_length=8,
            ),
            # Keys made before scopes existed could write; they keep doing so.
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(
                blank=True, help_text="Leave empty for a key that does not expire.", null=True
            ),
        ),
        migrations.RunPython(_actor_names_public, migrations.RunPython.noop),
    ]
