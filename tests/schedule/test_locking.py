"""The schedule lock comes first: writes that lock a process row and then milestones must not
deadlock with a milestone write (which holds the schedule lock, then locks its process row)."""

import threading
import time

import pytest
from django.db import connection, transaction

from tests.factories import ProcessFactory
from tracker.models import Event, EventType, Milestone, Process
from tracker.services.milestones import milestone_create
from tracker.services.processes import process_delete
from tracker.services.schedule import schedule_lock

from .conftest import day

pytestmark = pytest.mark.django_db(transaction=True)


def _someone_waits_for_an_advisory_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0] > 0


def _in_thread(target, errors: list) -> threading.Thread:
    def run():
        try:
            target()
        except Exception as error:  # the test reports it
            errors.append(repr(error))
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_deleting_a_process_waits_for_a_milestone_write_in_it(editor):
    process = ProcessFactory()
    first = milestone_create(
        actor=editor, data={"process": process, "title": "First", "target_date": day(3)}
    )
    errors: list[str] = []
    written: list[Milestone] = []
    holding = threading.Event()

    def writer():
        with transaction.atomic():
            schedule_lock()
            holding.set()
            # Write only once the deleter is queued behind the lock: with the old order it
            # held the process row by then, and this insert needs that row (its key).
            deadline = time.monotonic() + 10
            while not _someone_waits_for_an_advisory_lock() and time.monotonic() < deadline:
                time.sleep(0.02)
            second = milestone_create(
                actor=editor, data={"process": process, "title": "Second", "target_date": day(4)}
            )
            written.append(second)

    def deleter():
        holding.wait(10)
        process_delete(actor=editor, process=process)

    threads = [_in_thread(writer, errors), _in_thread(deleter, errors)]
    for thread in threads:
        thread.join(30)

    assert errors == []
    assert len(written) == 1
    assert not Process.objects.filter(pk=process.pk).exists()
    assert not Milestone.objects.exists()
    deleted = Event.objects.filter(type=EventType.MILESTONE_DELETED)
    assert sorted(deleted.values_list("milestone_id", flat=True)) == sorted(
        [first.pk, *(m.pk for m in written)]
    )
