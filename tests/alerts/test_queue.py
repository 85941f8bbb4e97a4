"""The doorbell with the broker down: commits stay quick, the warning is logged once."""

import subprocess
import sys

import pytest

from tests.factories import MilestoneFactory
from tracker.models import Event

from .conftest import ROOT, _database_url

SCRIPT = """
import time
from django.db import transaction
from tracker.models import Milestone
from tracker.services.milestones import milestone_update

started = time.monotonic()
with transaction.atomic():
    for milestone in Milestone.objects.filter(pk__in={ids}):
        milestone_update(actor="importer:test", milestone=milestone, data={{"notes": "x"}})
print(round(time.monotonic() - started, 2))
"""


@pytest.mark.django_db(transaction=True)  # the other process must see the milestones
def test_a_transaction_of_many_events_with_the_broker_down_rings_once():
    ids = [MilestoneFactory().pk for _ in range(5)]
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": _database_url(),
        # Nothing answers on port 9, as when Redis is down.
        "REDIS_URL": "redis://127.0.0.1:9/1",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SCRIPT.format(ids=ids)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    # One try at the broker, not one per event (each can take the connection timeout).
    assert result.stderr.count("Could not queue") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert float(result.stdout.strip().splitlines()[-1]) < 4
    assert Event.objects.filter(milestone_id__in=ids, dispatched_at__isnull=True).count() == 5
