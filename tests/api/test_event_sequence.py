"""The feed's sequence is commit order: a poller resuming with ?after= never skips an event,
even when transactions commit out of id order. Real PostgreSQL, real concurrent
transactions (one connection per thread).

The writers create processes: milestone writes take turns on the schedule's lock
(tracker.services.schedule), so two of them could not commit out of id order.
"""

import random
import threading
import time

import pytest
from django.db import connection, transaction

from tests.factories import OrganizationFactory
from tracker.alerts.dispatch import event_dispatch
from tracker.models import Event
from tracker.services.events import events_sequence_stamp
from tracker.services.processes import process_create

pytestmark = pytest.mark.django_db(transaction=True)


def _poll(client, after: int) -> list[dict]:
    """Everything after ``after``, following ``next`` to the end."""
    items, url = [], f"/api/v1/events/?after={after}&page_size=200"
    while url:
        page = client.get(url).json()
        items += page["results"]
        url = page["next"]
    return items


def _in_thread(target) -> threading.Thread:
    def run():
        try:
            target()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_an_event_committed_after_a_later_id_is_not_skipped(client):
    organization = OrganizationFactory()
    events_sequence_stamp()
    inserted, commit = threading.Event(), threading.Event()
    slow = {}

    def slow_writer():
        with transaction.atomic():
            slow["process"] = process_create(
                actor="slow", data={"organization": organization, "kind": "other", "title": "Slow"}
            )
            inserted.set()
            assert commit.wait(10)

    thread = _in_thread(slow_writer)
    assert inserted.wait(10)
    # T2 takes a higher id and commits first; its dispatch stamps it.
    fast = process_create(
        actor="fast", data={"organization": organization, "kind": "other", "title": "Fast"}
    )
    fast_event = Event.objects.get(process=fast)
    event_dispatch(event_id=fast_event.pk)

    # The poller reads in between and keeps the last sequence it saw.
    first = _poll(client, after=0)
    assert [item["id"] for item in first][-1] == str(fast_event.uuid)
    last_seen = first[-1]["sequence"]

    commit.set()
    thread.join(10)
    slow_event = Event.objects.get(process=slow["process"])
    assert slow_event.pk < fast_event.pk  # the id order the old cursor followed
    event_dispatch(event_id=slow_event.pk)

    resumed = _poll(client, after=last_seen)
    assert [item["id"] for item in resumed] == [str(slow_event.uuid)]
    assert resumed[0]["sequence"] > last_seen


def test_concurrent_writers_and_stampers_leave_no_gap_for_a_poller(client):
    organization = OrganizationFactory()
    writers, per_writer = 4, 12
    done = threading.Event()

    def writer(number: int):
        rng = random.Random(number)
        for index in range(per_writer):
            with transaction.atomic():
                process_create(
                    actor=f"writer-{number}",
                    data={
                        "organization": organization,
                        "kind": "other",
                        "title": f"{number}-{index}",
                    },
                )
                # Hold the transaction open a while, so commits overtake each other's ids.
                time.sleep(rng.uniform(0, 0.02))
            if rng.random() < 0.5:
                events_sequence_stamp()

    def stamper():
        while not done.is_set():
            events_sequence_stamp()
            time.sleep(0.001)

    threads = [_in_thread(lambda n=n: writer(n)) for n in range(writers)]
    threads += [_in_thread(stamper) for _ in range(2)]
    seen, last = [], 0
    while any(t.is_alive() for t in threads[:writers]):
        items = _poll(client, after=last)
        seen += items
        last = items[-1]["sequence"] if items else last
    done.set()
    for thread in threads:
        thread.join(10)
    events_sequence_stamp()
    seen += _poll(client, after=last)

    sequences = [item["sequence"] for item in seen]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == len(sequences) == writers * per_writer
    assert {item["id"] for item in seen} == {
        str(u) for u in Event.objects.values_list("uuid", flat=True)
    }
