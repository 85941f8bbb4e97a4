import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run web, Celery worker and Celery beat together; Ctrl-C stops all three."

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
        processes = {
            name: subprocess.Popen(command, env=os.environ.copy())
            for name, command in commands.items()
        }
        self.stdout.write(f"Web on http://{addr}/ (admin at /admin/); worker and beat running.")
        try:
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            stopped = [name for name, p in processes.items() if p.poll() is not None]
            self.stderr.write(f"{', '.join(stopped)} stopped; stopping the rest.")
        except KeyboardInterrupt:
            self.stdout.write("Stopping web, worker and beat...")
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for process in processes.values():
                try:
                    process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
