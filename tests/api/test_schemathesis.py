"""Property-based run of the whole API against its own OpenAPI schema: whatever the input,
no 5xx, and every response (errors included) matches what the schema documents."""

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
from tracker.services.tokens import api_token_create

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


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
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_its_schema(case, superuser_key):
    case.call_and_validate(headers={"Authorization": f"Bearer {superuser_key}"}, checks=CHECKS)
