"""Each kind of work goes to its own queue, once, on the real Redis broker."""

import pytest
import redis
from django.conf import settings

from config.celery_app import app
from tracker import tasks

QUEUES = ("dispatch", "send", "periodic", "sources")


@pytest.fixture
def broker():
    # Bind every queue, as a worker consuming all of them does: a message bound to the
    # wrong key then shows up in more than one queue.
    with app.connection_for_write() as connection:
        for queue in app.amqp.queues.values():
            queue(connection.default_channel).declare()
    app.control.purge()
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    yield client
    app.control.purge()


@pytest.mark.parametrize(
    ("task", "args", "queue"),
    [
        (tasks.event_dispatch, (1,), "dispatch"),
        (tasks.deliveries_send, ([1, 2],), "send"),
        (tasks.digest_send, (1,), "send"),
        (tasks.alerts_sweep, (), "periodic"),
        (tasks.reminders_scan, (), "periodic"),
        (tasks.digests_build, ("daily",), "periodic"),
        (tasks.deliveries_prune, (), "periodic"),
        (tasks.edgar_feed_poll, (), "periodic"),
        (tasks.edgar_sync, (), "periodic"),
        (tasks.edgar_sync_organization, (1,), "sources"),
    ],
)
def test_a_task_is_queued_once_on_its_own_queue(broker, task, args, queue):
    task.delay(*args)

    lengths = {name: broker.llen(name) for name in QUEUES}

    assert lengths == {name: int(name == queue) for name in QUEUES}


def test_a_sweep_expires_when_the_next_is_due():
    sweep = settings.CELERY_BEAT_SCHEDULE["alerts-sweep"]
    assert 0 < sweep["options"]["expires"] <= max(settings.ALERTS_SWEEP_INTERVAL, 5.0)
