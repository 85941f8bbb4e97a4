import uuid

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tracker.services.tokens import api_token_create


@pytest.fixture(autouse=True)
def _own_throttle_counters(settings):
    # Counters live in Redis and outlive a test; a fresh key prefix gives each test its own.
    settings.API_THROTTLE_KEY_PREFIX = f"test-{uuid.uuid4().hex}"


@pytest.fixture
def client():
    return APIClient()


@pytest.fixture
def other_user(db):
    return UserFactory(username="other")


def bearer(user, name="test", scope="write") -> dict:
    """Headers that authenticate as ``user`` with a fresh API token."""
    _, key = api_token_create(user=user, name=name, scope=scope)
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}
