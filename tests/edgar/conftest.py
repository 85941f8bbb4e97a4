import pytest

from tracker.sources.edgar.ratelimit import rate_limiter

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
