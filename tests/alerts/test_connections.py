"""Bounded connections: after a fan-out to hundreds of distinct host:port receivers the
sending process holds at most WEBHOOK_IDLE_CONNECTIONS idle sockets, and idle ones expire.
The receivers are real: one subprocess listening on many ports (tests/alerts/many_ports.py).
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.factories import MilestoneFactory
from tracker import tasks
from tracker.alerts import http
from tracker.alerts.dispatch import event_dispatch
from tracker.models import Event
from tracker.models.alerts import Delivery, DeliveryStatus
from tracker.services.alerts import endpoint_create, subscription_create
from tracker.services.milestones import milestone_update

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def many_ports():
    """Receivers on 300 ports of 127.0.0.1, in their own process (their sockets are not
    counted with the sender's)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.alerts.many_ports", "--ports", "300"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield json.loads(process.stdout.readline())
    finally:
        process.kill()
        process.wait(10)


@pytest.fixture(autouse=True)
def _empty_pool(monkeypatch):
    # The pool is the process's: each test starts with one that holds nothing.
    monkeypatch.setattr(http, "_idle", http._IdlePool())


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def _fan_out(owner, ports: list[int]) -> list[int]:
    for port in ports:
        endpoint = endpoint_create(owner=owner, data={"url": f"http://127.0.0.1:{port}/hook"})
        subscription_create(owner=owner, data={"channel": "webhook", "endpoint": endpoint})
    milestone = MilestoneFactory()
    milestone_update(actor="importer:test", milestone=milestone, data={"notes": "x"})
    event = Event.objects.filter(milestone_id=milestone.pk).latest("id")
    return event_dispatch(event_id=event.pk).pending_ids


def test_a_fan_out_to_many_hosts_leaves_a_bounded_number_of_sockets_open(
    owner, many_ports, settings
):
    settings.WEBHOOK_IDLE_CONNECTIONS = 20
    ids = _fan_out(owner, many_ports)
    before = _open_descriptors()

    assert tasks.deliveries_send(ids) == 300

    assert Delivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 300
    assert len(http._idle) == 20
    # Without the bound, every receiver's socket stayed open: 300 more descriptors.
    assert _open_descriptors() - before <= 20


def test_idle_connections_expire(owner, many_ports, settings):
    settings.WEBHOOK_IDLE_TIMEOUT = 0.3
    tasks.deliveries_send(_fan_out(owner, many_ports[:5]))
    assert len(http._idle) == 5

    time.sleep(0.5)
    http.post(f"http://127.0.0.1:{many_ports[5]}/hook", body=b"{}", headers={})

    assert len(http._idle) == 1  # the five idle for too long were closed
