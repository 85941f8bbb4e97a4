import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

# Below this many seconds between two starts of the worker, the next start waits a second,
# so a worker that cannot start at all does not spin.
RESTART_BACKOFF = 1.0


class Command(BaseCommand):
    help = (
        "Run web, Celery worker and Celery beat together; Ctrl-C stops all three. A worker "
        "that exits (its watchdog found it stalled) is started again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--addr", default="127.0.0.1:8000", help="Where the web server listens."
        )

    def handle(self, *args, addr, **options):
        python = sys.executable
        beat_schedule = str(settings.VAR_DIR / "celerybeat-schedule")
        commands = {
            "web": [python, "manage.py", "runserver", addr, "--noreload"],
            "worker": [python, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO"],
            "beat": [
                python, "-m", "celery", "-A", "config", "beat",
                "--loglevel=INFO", f"--schedule={beat_schedule}",
            ],
        }  # fmt: skip
        # `kill` or a supervisor's stop ends the three like Ctrl-C does, leaving no orphans.
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        self.stdout.write(f"Web on http://{addr}/ (admin at /admin/); worker and beat running.")
        supervise(commands, restart={"worker"}, log=self.stderr.write)


def supervise(commands: dict[str, list[str]], *, restart: set[str], log) -> None:
    """Run ``commands`` until one not in ``restart`` stops or Ctrl-C; start those in
    ``restart`` again whenever they exit. Stops every process before returning."""
    processes = {name: _start(command) for name, command in commands.items()}
    started = dict.fromkeys(processes, time.monotonic())
    try:
        while True:
            time.sleep(0.5)
            stopped = {name: p.returncode for name, p in processes.items() if p.poll() is not None}
            if ended := [name for name in stopped if name not in restart]:
                log(f"{', '.join(ended)} stopped; stopping the rest.")
                return
            for name, status in stopped.items():
                log(f"The {name} exited with status {status}; starting it again.")
                if time.monotonic() - started[name] < RESTART_BACKOFF:
                    time.sleep(RESTART_BACKOFF)
                processes[name], started[name] = _start(commands[name]), time.monotonic()
    except KeyboardInterrupt:
        log("Stopping " + ", ".join(processes) + "...")
    finally:
        _stop_all(processes.values())


def _start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(command, env=os.environ.copy())


def _stop_all(processes) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
