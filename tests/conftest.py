import socket
from urllib.parse import urlsplit

import pytest
from django.conf import settings

from tests.factories import UserFactory
from tracker.permissions import EDITORS_GROUP


def _reachable(url: str, default_port: int) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        socket.create_connection((host, port), timeout=2).close()
        return host, port, True
    except OSError:
        return host, port, False


def pytest_sessionstart(session):
    """Fail fast, with a clear message, when the real services the suite needs are down."""
    db = settings.DATABASES["default"]
    checks = [
        ("PostgreSQL", f"//{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}", 5432),
        ("Redis", settings.REDIS_URL, 6379),
    ]
    for name, url, port in checks:
        host, port, ok = _reachable(url, port)
        if not ok:
            pytest.exit(
                f"{name} is not reachable at {host}:{port}. Start it (see README, 'Running the "
                f"tests') or point DATABASE_URL / REDIS_URL at a running server.",
                returncode=3,
            )


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def editor(db):
    from django.contrib.auth.models import Group

    # Public payloads show the full name, never the username "editor".
    editor = UserFactory(username="editor", first_name="Eve", last_name="Editor", is_staff=True)
    editor.groups.add(Group.objects.get(name=EDITORS_GROUP))
    return editor
