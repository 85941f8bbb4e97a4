"""Production settings fail closed, and ``check --deploy`` passes with no warning."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
_OURS = {
    "DATABASE_URL",
    "SECRET_KEY",
    "EMAIL_URL",
    "ALLOWED_HOSTS",
    "SITE_URL",
    "DEFAULT_FROM_EMAIL",
    "FIELD_ENCRYPTION_KEY",
    "TRACKER_PUBLIC_READ",
    "SECURE_HSTS_SECONDS",
    "DEBUG",
    "LOG_FORMAT",
    "SENTRY_DSN",
}


def production_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _OURS}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY="dummy-" + "x7Qk2pLm9Rt4Vw8Yz1Bc5Df3Gh6Jn0Sa" * 2,
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        EMAIL_URL="smtp://mail.internal:25",
        ALLOWED_HOSTS="tracker.example.com",
        SITE_URL="https://tracker.example.com",
        DEFAULT_FROM_EMAIL="Milestone Tracker <alerts@tracker.example.com>",
    )
    env.update(extra)
    return env


def run(args: list[str], **extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=production_env(**extra), capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip


def test_check_deploy_passes_with_no_warning():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_would_catch_a_weakened_setting():
    # The check above can fail: turning HSTS off is reported.
    result = run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], SECURE_HSTS_SECONDS="0"
    )
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout


PROBE = """
import json
from django.conf import settings as s
print(json.dumps({name: getattr(s, name) for name in (
    "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
    "TRACKER_PUBLIC_READ", "DEBUG", "API_REQUIRE_IF_MATCH")}))
"""


def test_production_fails_closed_by_default():
    result = run(["-c", "import django; django.setup()\n" + PROBE])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 3600,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "TRACKER_PUBLIC_READ": False,
        "DEBUG": False,
        "API_REQUIRE_IF_MATCH": False,
    }


def test_hsts_and_public_reading_are_configurable():
    result = run(
        ["-c", "import django; django.setup()\n" + PROBE],
        SECURE_HSTS_SECONDS="600",
        TRACKER_PUBLIC_READ="true",
    )
    values = json.loads(result.stdout.splitlines()[-1])
    assert (values["SECURE_HSTS_SECONDS"], values["TRACKER_PUBLIC_READ"]) == (600, True)


@pytest.mark.parametrize("key", ["", "not-a-fernet-key"])
def test_production_refuses_to_boot_without_a_valid_encryption_key(key):
    result = run(["manage.py", "check"], FIELD_ENCRYPTION_KEY=key)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY" in result.stderr


def test_log_format_json_writes_one_json_object_per_line():
    result = run(
        ["-c", "import django, logging; django.setup(); "
               "logging.getLogger('tracker.probe').warning('disk %s full', 'var')"],
        LOG_FORMAT="json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    probe = next(line for line in lines if line["logger"] == "tracker.probe")
    assert (probe["level"], probe["message"]) == ("WARNING", "disk var full")
    assert "time" in probe
