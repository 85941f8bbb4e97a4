"""Request budgets: one per API token (or session user) and one per anonymous address.

A fixed-window counter (one atomic INCR per request in Redis) rather than DRF's default
list of timestamps, which rewrites a list as long as the rate on every request and loses
counts when two requests of one client race.
"""

import functools
import logging
import time

import environ
from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@functools.cache
def _cache_for(url: str):
    config = environ.Env.cache_url_config(url)
    backend = import_string(config.pop("BACKEND"))
    location = config.pop("LOCATION", "")
    if "redis" in backend.__module__:
        # A slow or absent Redis must not hold up requests (see allow_request).
        config.setdefault("OPTIONS", {}).update(socket_connect_timeout=0.5, socket_timeout=0.5)
    return backend(location, config)


def parse_rate(rate: str) -> tuple[int, int]:
    """ "120/minute" -> (120, 60)."""
    number, period = rate.split("/")
    return int(number), _PERIODS[period.strip()[0]]


class _WindowThrottle(BaseThrottle):
    scope = ""

    def ident(self, request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request, view) -> bool:
        ident = self.ident(request)
        if ident is None:
            return True
        limit, period = parse_rate(settings.API_THROTTLE_RATES[self.scope])
        now = time.time()
        window = int(now // period)
        key = f"{settings.API_THROTTLE_KEY_PREFIX}:{self.scope}:{ident}:{window}"
        cache = _cache_for(settings.API_THROTTLE_CACHE_URL)
        try:
            cache.add(key, 0, timeout=period + 1)
            count = cache.incr(key)
        except Exception:
            # Throttling protects the service; it must not take the API down with Redis.
            logger.warning("API throttle cache unavailable; request allowed", exc_info=True)
            return True
        if count <= limit:
            return True
        self._wait = (window + 1) * period - now
        return False

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


class TokenRateThrottle(_WindowThrottle):
    """``API_THROTTLE_RATES["token"]`` per API token; a session user counts as one client."""

    scope = "token"

    def ident(self, request) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None
        if request.auth is not None and hasattr(request.auth, "key_hash"):
            return f"t{request.auth.pk}"
        return f"u{request.user.pk}"


class AnonymousRateThrottle(_WindowThrottle):
    """``API_THROTTLE_RATES["anon"]`` per client address for requests without credentials."""

    scope = "anon"

    def ident(self, request) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.get_ident(request)
