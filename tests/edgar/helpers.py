import contextlib
import threading

from django.db import connection

from tracker.models import Event
from tracker.sources.edgar.client import EdgarClient
from tracker.sources.edgar.sync import organization_sync


def sync(organization):
    """One sync of ``organization`` through a fresh client, as the task does it."""
    client = EdgarClient()
    try:
        return organization_sync(organization=organization, client=client)
    finally:
        client.close()


def sync_twice(edgar, organization) -> int:
    """Sync, then sync again with EDGAR answering 200 (no ETags), so the import itself must
    be idempotent; returns how many events there were after the first sync."""
    sync(organization)
    events = Event.objects.count()
    edgar.with_etags = False
    sync(organization)
    return events


@contextlib.contextmanager
def advisory_lock_held(lock_class: int, key: int):
    """Hold an advisory lock from another database session, as a running sync or feed poll
    does (the lock is re-entrant within one session, so not from this one)."""
    taken, done = threading.Event(), threading.Event()

    def hold():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [lock_class, key])
                taken.set()
                done.wait(30)
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [lock_class, key])
        finally:
            connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    taken.wait(10)
    try:
        yield
    finally:
        done.set()
        thread.join(10)


def sync_running(organization):
    """What a running sync of ``organization`` holds."""
    return advisory_lock_held(7201521, organization.pk)
