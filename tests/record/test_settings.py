"""Settings come from the environment; each case imports them in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST"),
    "port": db.get("PORT"), "broker": settings.CELERY_BROKER_URL,
    "allowed_hosts": settings.ALLOWED_HOSTS, "email_host": getattr(settings, "EMAIL_HOST", None),
    "email_port": getattr(settings, "EMAIL_PORT", None), "debug": settings.DEBUG,
    "secret_key": settings.SECRET_KEY,
}))
"""
_OURS = (
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "EMAIL_URL",
    "SECRET_KEY",
    "SITE_URL",
    "DEFAULT_FROM_EMAIL",
    "ALLOWED_HOSTS",
    "DEBUG",
    "FIELD_ENCRYPTION_KEY",
    "TRACKER_PUBLIC_READ",
    "SECURE_HSTS_SECONDS",
    "LOG_FORMAT",
    "SENTRY_DSN",
)
# A Fernet key, as production requires one (tests only).
FERNET_KEY = "dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5LTE="


def load(module: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in _OURS}
    clean.update(env, DJANGO_SETTINGS_MODULE=f"config.settings.{module}")
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True
    )


def test_production_reads_everything_from_the_environment():
    result = load(
        "production",
        SECRET_KEY="from-env",
        DATABASE_URL="postgres://app:pw@db.internal:6543/tracker",
        REDIS_URL="redis://cache.internal:6380/2",
        ALLOWED_HOSTS="tracker.example.com,api.example.com",
        EMAIL_URL="smtp://mailer:pw@mail.internal:2525",
        SITE_URL="https://tracker.example.com",
        DEFAULT_FROM_EMAIL="Tracker <alerts@tracker.example.com>",
        FIELD_ENCRYPTION_KEY=FERNET_KEY,
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.postgresql"
    assert (values["host"], values["port"], values["name"]) == ("db.internal", 6543, "tracker")
    assert values["broker"] == "redis://cache.internal:6380/2"
    assert values["allowed_hosts"] == ["tracker.example.com", "api.example.com"]
    assert (values["email_host"], values["email_port"]) == ("mail.internal", 2525)
    assert values["secret_key"] == "from-env"
    assert values["debug"] is False


@pytest.mark.parametrize(
    "missing",
    [
        "SECRET_KEY",
        "DATABASE_URL",
        "EMAIL_URL",
        "SITE_URL",
        "DEFAULT_FROM_EMAIL",
        "FIELD_ENCRYPTION_KEY",
    ],
)
def test_production_refuses_to_start_without_a_required_setting(missing):
    required = {
        "SECRET_KEY": "from-env",
        "DATABASE_URL": "postgres://app@db/tracker",
        "ALLOWED_HOSTS": "example.com",
        "EMAIL_URL": "smtp://mail.internal:25",
        "SITE_URL": "https://tracker.example.com",
        "DEFAULT_FROM_EMAIL": "Tracker <alerts@tracker.example.com>",
        "FIELD_ENCRYPTION_KEY": FERNET_KEY,
    }
    del required[missing]
    result = load("production", **required)
    assert result.returncode != 0
    assert missing in result.stderr


def test_local_defaults_are_embedded_sqlite_and_filesystem_broker():
    values = json.loads(load("local").stdout)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"].endswith("var/tracker.sqlite3")
    assert values["broker"] == "filesystem://"


def test_local_uses_redis_and_postgres_when_told():
    values = json.loads(
        load(
            "local",
            REDIS_URL="redis://127.0.0.1:6379/5",
            DATABASE_URL="postgres://postgres@127.0.0.1:5432/other",
        ).stdout
    )
    assert values["broker"] == "redis://127.0.0.1:6379/5"
    assert values["engine"] == "django.db.backends.postgresql"
