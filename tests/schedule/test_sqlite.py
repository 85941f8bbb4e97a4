"""The schedule's SQL on SQLite, the database of `make run`: the demo loads through the
services (recursive query and one-statement rewrite included) and a move propagates.

The demo's dates are fixed and at-risk depends on today's date, so the script runs on a
frozen clock: the day before the demo's next open target (2026-12-01)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import datetime, django, time_machine
time_machine.travel(datetime.datetime(2026, 11, 30, 12, tzinfo=datetime.timezone.utc)).start()
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("load_demo", verbosity=0)
call_command("load_demo", verbosity=0)
from tracker.models import Event, Milestone
from tracker.services.milestones import milestone_update
get = lambda title: Milestone.objects.get(title=title)
roadshow = get("Roadshow launched")
assert roadshow.at_risk and roadshow.forecast_date == datetime.date(2027, 3, 16), roadshow
assert get("Lock-up expiry").forecast_date == datetime.date(2027, 9, 21)
milestone_update(
    actor="test", milestone=get("Public S-1 filed").typed(),
    data={"status": "planned", "target_date": datetime.date(2027, 2, 15)},
)
assert not Milestone.objects.filter(process=roadshow.process, at_risk=True,
                                    target_date__gt=datetime.date(2027, 1, 1)).exists()
assert get("Lock-up expiry").forecast_date == datetime.date(2027, 9, 14)
assert Event.objects.filter(type="milestone.back_on_track").count() == 5
print("sqlite ok")
"""


def test_the_demo_and_a_propagation_run_on_sqlite(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
        "DEBUG": "False",
    }
    env.pop("REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sqlite ok" in result.stdout
