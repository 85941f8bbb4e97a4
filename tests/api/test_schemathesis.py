"""Property-based runs of the whole API against its own OpenAPI schema, on PostgreSQL (the
WSGI app in this process) and on SQLite (a server of its own, as the demo runs it): whatever
the input, no 5xx; every response (errors included) matches what the schema documents; and
what the schema calls valid is accepted, unless the data conflicts with rows that exist
(or do not) at the time, which no schema can say."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import FilingFactory, IpoStepFactory, UserFactory
from tests.redis_server import free_port, wait_until
from tracker.api.serializers.record import MAX_ID
from tracker.services.tokens import api_token_create

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = SchemaGenerator().get_schema(request=None, public=True)
schema = schemathesis.openapi.from_dict(SCHEMA)
schema.app = get_wsgi_application()
# The same schema, sent over HTTP to the SQLite server.
sqlite_schema = schemathesis.openapi.from_dict(SCHEMA)

# 400s that only the rows present at the time explain (a referenced row that is not there
# or is not the caller's, a unique value already taken, a row still in use, a dependency
# cycle, an actual date after today), or a rule between two fields (an SEC filing's
# accession number), which OpenAPI 3.0 has no way to state (each is in the fields'
# descriptions).
_DATA_CONFLICTS = (
    "object does not exist",
    "No milestone has the id",
    "can be named once",  # the same milestone as an id and as an object
    "endpoint is disabled",
    "already exists",
    "still has processes",
    "No such webhook endpoint",
    "cycle",
    "cannot be in the future",
    "not one of your",
    "needs an endpoint",
    "always immediate",
    "Following EDGAR needs",
    "An SEC accession number looks like",
)


def schema_valid_data_is_accepted(ctx, response, case):
    """A request the schema calls valid is not refused for its form (a 400 that is not a
    data conflict means the schema promises more than the API accepts)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code != 400:
        return None
    body = response.json()
    reasons = [body["message"], *(m for ms in body["fields"].values() for m in ms)]
    if not any(conflict in reason for reason in reasons for conflict in _DATA_CONFLICTS):
        raise AssertionError(f"Schema-valid request refused: {body}")
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    schema_valid_data_is_accepted,
]
FUZZ = settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def _keep_the_test_connection():
    # The WSGI handler closes "old" database connections around each request, which would
    # close the test's transaction; Django's own test client unhooks these the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def superuser_key(db, settings, _keep_the_test_connection):
    settings.API_THROTTLE_RATES = {"anon": "100000/minute", "token": "100000/minute"}
    # A little of everything, so that generated ids sometimes hit real rows.
    FilingFactory()
    IpoStepFactory()
    user = UserFactory(username="root", is_superuser=True, is_staff=True)
    return api_token_create(user=user, name="schemathesis", scope="write")[1]


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_api_conforms_to_its_schema(case, superuser_key):
    case.call_and_validate(headers={"Authorization": f"Bearer {superuser_key}"}, checks=CHECKS)


class SqliteServer:
    """The API on SQLite in a server process of its own, with a superuser's key and a
    little data, on a free port; the broker is kombu's in-memory one (nothing consumes)."""

    _SETUP = (
        "from tests.factories import FilingFactory, IpoStepFactory, UserFactory\n"
        "from tracker.services.tokens import api_token_create\n"
        "FilingFactory(); IpoStepFactory()\n"
        "user = UserFactory(username='root', is_superuser=True, is_staff=True)\n"
        "print(api_token_create(user=user, name='schemathesis', scope='write')[1])\n"
    )

    def __init__(self, directory: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = directory / "server.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": f"sqlite:///{directory / 'api.sqlite3'}",
            "CELERY_BROKER_URL": "memory://",
            "API_THROTTLE_CACHE_URL": "locmemcache://",
            "API_THROTTLE_TOKEN_RATE": "100000/minute",
            "API_THROTTLE_ANON_RATE": "100000/minute",
        }
        self.process: subprocess.Popen | None = None
        self.key = ""

    def _manage(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    def start(self) -> "SqliteServer":
        self._manage("migrate", "--noinput", "-v0")
        self.key = self._manage("shell", "-c", self._SETUP).strip().splitlines()[-1]
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{self.port}",
                 "--noreload", "--nothreading"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(self._answers, 30, "the SQLite API server")
        return self

    def _answers(self) -> bool:
        import requests

        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory):
    server = SqliteServer(tmp_path_factory.mktemp("sqlite-api")).start()
    yield server
    server.stop()
    # A server error's traceback is in the log: fail loudly rather than lose it.
    assert "Traceback" not in server.log.read_text(), server.log.read_text()


@sqlite_schema.parametrize()
@FUZZ
def test_api_on_sqlite_conforms_to_its_schema(case, sqlite_server):
    case.call_and_validate(
        base_url=sqlite_server.url,
        headers={"Authorization": f"Bearer {sqlite_server.key}"},
        checks=CHECKS,
    )


# Out of range of a 64-bit id, both signs: SQLite cannot even bind such a number.
OUT_OF_RANGE = ["0", "-1", str(MAX_ID + 1), str(-MAX_ID - 2), "564354940845752795665212112896"]
OUT_OF_RANGE.append("-" + OUT_OF_RANGE[-1])
DETAIL_PATHS = [
    path.replace("{id}", "{}").replace("{sequence}", "{}")
    for path, item in SCHEMA["paths"].items()
    if "{" in path and "get" in item
]


def _out_of_range_answers(get) -> dict[str, int]:
    return {
        path.format(value): get(path.format(value))
        for path in DETAIL_PATHS
        for value in OUT_OF_RANGE
    }


def test_out_of_range_ids_are_404_on_postgresql(client, superuser_key):
    answers = _out_of_range_answers(
        lambda url: client.get(url, HTTP_AUTHORIZATION=f"Bearer {superuser_key}").status_code
    )
    assert set(answers.values()) == {404}, answers


def test_out_of_range_ids_are_404_on_sqlite(sqlite_server):
    import requests

    headers = {"Authorization": f"Bearer {sqlite_server.key}"}
    answers = _out_of_range_answers(
        lambda url: requests.get(sqlite_server.url + url, headers=headers, timeout=10).status_code
    )
    assert set(answers.values()) == {404}, answers
