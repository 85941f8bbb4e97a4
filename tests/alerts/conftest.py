"""Real parts for the alerts tests: a local webhook receiver, an aiosmtpd SMTP server and a
Celery worker subprocess (with its embedded beat running the sweep) on the real Redis and
the test database that pytest-django created."""

import asyncio
import atexit
import contextlib
import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings

from tests.factories import UserFactory
from tracker.alerts import sweep

from .receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
WORKER_READY_TIMEOUT = 60


@pytest.fixture(autouse=True)
def _sweep_memory():
    # The sweep remembers what it queued lately; each test starts with a sweep that has not.
    sweep._queued.clear()
    yield
    sweep._queued.clear()


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


class _Inbox:
    """What the SMTP server received, parsed."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        # The client address of each message's connection: one per SMTP connection.
        self.peers: list[tuple] = []
        # Seconds the server waits before answering MAIL FROM (a tarpit), when set.
        self.tarpit = 0.0
        self._arrived = threading.Condition()

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.tarpit:
            await asyncio.sleep(self.tarpit)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._arrived:
            self.messages.append(message)
            self.peers.append(session.peer)
            self._arrived.notify_all()
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 20.0) -> list:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"{len(self.messages)} of {count} emails arrived")
                self._arrived.wait(remaining)
            return list(self.messages)


class _Controller(Controller):
    """aiosmtpd's Controller on a port the system picks (port 0), so no other process can
    take the port between choosing it and binding it."""

    def _trigger_server(self):
        # The server is bound by now; its readiness check connects to self.port.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    controller = _Controller(inbox, hostname="127.0.0.1", port=0)
    controller.start()
    inbox.port = controller.port
    yield inbox
    controller.stop()


# Process groups of the workers started and not yet stopped: killed when the session ends
# however it ends, so no worker outlives a failed or interrupted run.
_live_groups: set[int] = set()


def _kill_live_groups() -> None:
    for pgid in list(_live_groups):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        _live_groups.discard(pgid)


atexit.register(_kill_live_groups)


@pytest.fixture(scope="session", autouse=True)
def _no_worker_outlives_the_session():
    yield
    _kill_live_groups()


class Worker:
    """``celery -A config worker -B`` against the test database; always stopped at teardown."""

    def __init__(self, workdir: Path, env: dict[str, str]):
        self.workdir = workdir
        self.env = env
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> "Worker":
        from config.celery_app import app

        # Messages left in the queue by earlier tests name rows that no longer exist.
        app.control.purge()
        self.starts += 1
        log = self.workdir / f"worker-{self.starts}.log"
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "-B",
            "-s", str(self.workdir / f"beat-{self.starts}"),
            "--pool", "threads", "-c", "4", "-l", "INFO",
            "--without-mingle", "--without-gossip", "--without-heartbeat",
            "-n", f"alerts-test-{uuid.uuid4().hex[:8]}@%h",
        ]  # fmt: skip
        self.log = log
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _live_groups.add(self.process.pid)
        deadline = time.monotonic() + WORKER_READY_TIMEOUT
        while b" ready." not in log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("The Celery worker did not start:\n" + self.output())
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """SIGKILL, as when a machine dies: no cleanup, no acknowledgements."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        if self.process:
            _live_groups.discard(self.process.pid)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process:
            with contextlib.suppress(ProcessLookupError):  # its children, if any are left
                os.killpg(self.process.pid, signal.SIGKILL)
            _live_groups.discard(self.process.pid)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:] if self.log.exists() else ""


def _database_url() -> str:
    db = settings.DATABASES["default"]
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{db.get('USER') or 'postgres'}{password}@{db.get('HOST') or '127.0.0.1'}:"
        f"{db.get('PORT') or 5432}/{db['NAME']}"
    )


@pytest.fixture
def worker_env(transactional_db, smtp_server, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "ALERTS_TEST_EMAIL_URL": f"smtp://127.0.0.1:{smtp_server.port}",
        "PYTHONUNBUFFERED": "1",
    }
    return env


@pytest.fixture
def worker(worker_env, tmp_path, request):
    """A Worker, not yet started (tests start, kill and restart it)."""
    controller = Worker(tmp_path, worker_env)
    yield controller
    controller.stop()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(controller.output())  # shown with the failure


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def owner(db):
    return UserFactory(username="subscriber", email="subscriber@example.com")
