"""One budget of requests per second to EDGAR, shared by everything that fetches from it.

The SEC counts requests per client, however many machines it runs on: every worker and
command draws from one sliding window in the Redis at REDIS_URL (the deployment, whatever
its broker), and from one per process when there is no Redis (the SQLite demo). The window
is a little longer than a second so that jitter between taking a slot and the request
reaching EDGAR cannot put one request too many into any second that EDGAR sees.
"""

import threading
import time
import uuid
from collections import deque

import redis
from django.conf import settings

WINDOW = 1.1  # seconds; see the module docstring
_REQUESTS_KEY = "edgar:ratelimit:requests"
_PAUSED_KEY = "edgar:ratelimit:paused-until"

# Returns 0 when a slot was taken, else the microseconds to wait. Redis's own clock is used
# so that machines with skewed clocks still share one window.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[2])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return paused - now end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, tonumber(oldest[2]) + window - now)
"""
# Pauses every client until now + ARGV[1] microseconds (never shortens a longer pause).
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local untilt = now + tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[1]) or '0') < untilt then
  redis.call('SET', KEYS[1], untilt, 'PX', math.ceil(tonumber(ARGV[1]) / 1000) + 1000)
end
return untilt
"""


class NoSlot(Exception):
    """No request slot within the caller's maximum wait (EDGAR asked every client to pause,
    or the window is full for longer)."""

    def __init__(self, wait: float):
        self.wait = wait
        super().__init__(f"the next EDGAR request slot is {wait:.1f} s away")


def _deadline(max_wait: float | None) -> float | None:
    return None if max_wait is None else time.monotonic() + max_wait


def _sleep_or_give_up(wait: float, deadline: float | None) -> None:
    if deadline is not None and time.monotonic() + wait > deadline:
        raise NoSlot(wait)
    time.sleep(wait)


class RedisRateLimiter:
    """At most ``rate`` requests in any window, across every process using this Redis."""

    def __init__(self, url: str, rate: int):
        self.rate = rate
        self._redis = redis.Redis.from_url(url)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._pause = self._redis.register_script(_PAUSE)

    def acquire(self, max_wait: float | None = None) -> None:
        """Wait until a request may be made, and count it; raise NoSlot rather than wait
        longer than ``max_wait`` seconds in all (None: as long as it takes)."""
        member = uuid.uuid4().hex
        deadline = _deadline(max_wait)
        while wait := self._acquire(
            keys=[_REQUESTS_KEY, _PAUSED_KEY], args=[self.rate, int(WINDOW * 1e6), member]
        ):
            _sleep_or_give_up(wait / 1e6, deadline)

    def pause(self, seconds: float) -> None:
        """Make every client wait ``seconds`` before its next request (EDGAR said slow down)."""
        self._pause(keys=[_PAUSED_KEY], args=[int(seconds * 1e6)])

    def reset(self) -> None:
        self._redis.delete(_REQUESTS_KEY, _PAUSED_KEY)


class LocalRateLimiter:
    """The same window for the threads of one process (no Redis to share it through)."""

    def __init__(self, rate: int):
        self.rate = rate
        self._taken: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, max_wait: float | None = None) -> None:
        deadline = _deadline(max_wait)
        while wait := self._try():
            _sleep_or_give_up(wait, deadline)

    def _try(self) -> float:
        with self._lock:
            now = time.monotonic()
            if self._paused_until > now:
                return self._paused_until - now
            while self._taken and self._taken[0] <= now - WINDOW:
                self._taken.popleft()
            if len(self._taken) < self.rate:
                self._taken.append(now)
                return 0.0
            return max(self._taken[0] + WINDOW - now, 0.001)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def reset(self) -> None:
        with self._lock:
            self._taken.clear()
            self._paused_until = 0.0


_limiters: dict[tuple, RedisRateLimiter | LocalRateLimiter] = {}
_limiters_lock = threading.Lock()


# Brokers that live in one machine's process or disk (the SQLite demo): no Redis to share.
_LOCAL_BROKERS = ("filesystem://", "memory://")


def rate_limiter() -> RedisRateLimiter | LocalRateLimiter:
    """The limiter for the current settings: a window in the Redis at REDIS_URL, unless the
    deployment runs without Redis (the demo's local broker), then one per process."""
    rate = settings.EDGAR_MAX_REQUESTS_PER_SECOND
    shared = settings.REDIS_URL.startswith(("redis://", "rediss://")) and not (
        settings.CELERY_BROKER_URL.startswith(_LOCAL_BROKERS)
    )
    key = (settings.REDIS_URL if shared else None, rate)
    with _limiters_lock:
        if key not in _limiters:
            _limiters[key] = RedisRateLimiter(key[0], rate) if shared else LocalRateLimiter(rate)
        return _limiters[key]
