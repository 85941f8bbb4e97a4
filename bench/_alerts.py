"""Shared set-up for the alerts benchmarks: a fresh PostgreSQL database, the local receiver
in its own process and a Celery worker subprocess on Redis.

Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/alerts_bench with
conn_max_age=60 as in production; the database is dropped and created again), REDIS_URL
(default redis://127.0.0.1:6379/1).
"""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/alerts_bench?conn_max_age=60"
)
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1")
ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "config.settings.local",
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "EMAIL_URL": "consolemail://",
    "LOG_LEVEL": "WARNING",
    # As in production: with DEBUG on, Django also records every query it runs.
    "DEBUG": "False",
    "PYTHONUNBUFFERED": "1",
}
ENV.pop("CELERY_BROKER_URL", None)


def database_recreate() -> None:
    """Drop and create the benchmark database, then migrate it (in this process)."""
    import psycopg

    parts = urlsplit(DATABASE_URL)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres", query="").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    os.environ.update(ENV)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class ReceiverProcess:
    """tests.alerts.receiver in its own process."""

    def __init__(self):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.alerts.receiver", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.process.stdout.readline())

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _get(self, path: str):
        with urllib.request.urlopen(self.url(path), timeout=10) as response:
            return json.loads(response.read())

    def stats(self) -> dict:
        return self._get("/_stats")

    def log(self) -> list[dict]:
        return self._get("/_log")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class ManyPortsProcess:
    """tests.alerts.many_ports in its own process: receivers on many ports of 127.0.0.1."""

    def __init__(self, ports: int, delay: float = 0.0, blackhole: bool = False):
        command = [sys.executable, "-m", "tests.alerts.many_ports", "--ports", str(ports)]
        command += ["--delay", str(delay)] + (["--blackhole"] if blackhole else [])
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        self.ports: list[int] = json.loads(self.process.stdout.readline())

    def url(self, index: int, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.ports[index % len(self.ports)]}{path}"

    def stats(self) -> dict:
        with urllib.request.urlopen(self.url(0, "/_stats"), timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class WorkerProcess:
    """``celery -A config worker --pool threads``; no beat unless asked (the alerts benches
    time only the doorbell path)."""

    def __init__(self, log_path: Path, concurrency: int = 4, beat: bool = False):
        from config.celery_app import app

        app.control.purge()
        self.log_path = log_path
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool",
                "threads",
                "-c",
                str(concurrency),
                "-l",
                "INFO",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                *(["-B", "-s", str(log_path.with_suffix(".beat"))] if beat else []),
            ],  # fmt: skip
            cwd=ROOT,
            env=ENV,
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("The worker did not start:\n" + log_path.read_text()[-3000:])
            time.sleep(0.1)

    def peak_memory_mb(self) -> float:
        """The worker's peak resident memory (VmHWM; the threads pool is one process)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def open_files(self) -> int:
        """The worker's open file descriptors (sockets included)."""
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def cpu_seconds(self) -> float:
        """User plus system CPU time the worker has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
