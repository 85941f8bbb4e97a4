"""With SENTRY_DSN set, unhandled exceptions of views and Celery tasks reach Sentry (here a
local stand-in server receiving the SDK's envelopes); without it nothing is sent."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.production.sentry_stand_in import SentryStandIn

ROOT = Path(__file__).resolve().parents[2]

WEB = """
import django, sentry_sdk
django.setup()
from django.test import Client, override_settings
with override_settings(ROOT_URLCONF="tests.production.sentry_targets"):
    response = Client(raise_request_exception=False).get("/boom/")
print("status", response.status_code)
sentry_sdk.flush(timeout=10)
"""


def _env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTRY_")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.test", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def test_an_unhandled_view_exception_reaches_sentry():
    with SentryStandIn() as sentry:
        result = subprocess.run(
            [sys.executable, "-c", WEB], cwd=ROOT, env=_env(SENTRY_DSN=sentry.dsn),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert "status 500" in result.stdout, result.stderr
        event = sentry.wait_for("view boom for the sentry test")
    # Reported by the Django integration, as unhandled, for that URL.
    assert event["exception"]["values"][0]["mechanism"] == {"type": "django", "handled": False}
    assert event["transaction"] == "/boom/"
    assert {"django", "celery"} <= set(event["sdk"]["integrations"])
    assert "cookies" not in event["request"] and "user" not in event


def test_nothing_is_sent_without_a_dsn():
    with SentryStandIn() as sentry:
        result = subprocess.run(
            [sys.executable, "-c", WEB], cwd=ROOT, env=_env(), capture_output=True, text=True,
            timeout=60,
        )  # fmt: skip
        assert "status 500" in result.stdout, result.stderr
        time.sleep(1)
        assert sentry.events == []


@pytest.mark.e2e
def test_an_unhandled_task_exception_in_a_worker_reaches_sentry(tmp_path):
    from config.celery_app import app

    queue = f"sentry-test-{uuid.uuid4().hex[:8]}"
    with SentryStandIn() as sentry:
        log = tmp_path / "worker.log"
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker",
             "-I", "tests.production.sentry_targets", "-Q", queue, "--pool", "solo",
             "-l", "INFO", "--without-mingle", "--without-gossip", "--without-heartbeat",
             "-n", f"{queue}@%h"],
            cwd=ROOT, env=_env(SENTRY_DSN=sentry.dsn, REDIS_URL=settings.REDIS_URL,
                               CELERY_BROKER_URL=settings.CELERY_BROKER_URL),
            stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while b" ready." not in log.read_bytes():
                assert worker.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            app.send_task("tests.production.sentry_targets.boom_task", queue=queue)
            event = sentry.wait_for("task boom for the sentry test")
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
    assert event["exception"]["values"][0]["mechanism"] == {"type": "celery", "handled": False}
    assert event["extra"]["celery-job"]["task_name"] == "tests.production.sentry_targets.boom_task"
