import pytest

from tests.factories import OrganizationFactory
from tracker.sources.edgar.ratelimit import rate_limiter

from .edgar_data import CIK
from .stand_in import EdgarStandIn


@pytest.fixture
def edgar(httpserver, settings):
    """EDGAR served from a local server; both configured hosts point at it."""
    stand_in = EdgarStandIn(httpserver)
    settings.EDGAR_BASE_URL = stand_in.url
    settings.EDGAR_ARCHIVES_URL = stand_in.url
    rate_limiter().reset()  # the window and any pause live in Redis across tests
    yield stand_in
    rate_limiter().reset()


@pytest.fixture
def company(db):
    """The followed company at ``CIK``."""
    return OrganizationFactory(name="Example Therapeutics", cik=f"{CIK:010d}", follow_edgar=True)


# The real parts of the alerts' end-to-end tests: a Celery worker subprocess, a webhook
# receiver and an SMTP server (tests/alerts/conftest.py).
from tests.alerts.conftest import (  # noqa: E402, F401
    _no_worker_outlives_the_session,
    owner,
    pytest_runtest_makereport,
    receiver,
    smtp_server,
    worker,
    worker_env,
)
