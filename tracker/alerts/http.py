"""The one HTTP client for outgoing webhooks, with the SSRF guard at connect time.

Built on urllib3 (no environment proxies, no redirects, explicit timeouts). The connection
classes resolve the host themselves, check every address the name resolves to with
``tracker.alerts.guard.address_problem`` and connect to a checked address, so neither a DNS
answer nor a redirect can lead the request somewhere the guard refuses. Connections are
pooled per host so a fan-out to one receiver reuses them.
"""

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass

import urllib3
from django.conf import settings
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)

from .guard import RefusedTarget, address_problem, url_problem

# What is kept of a response for the delivery log.
RESPONSE_KEEP_BYTES = 4096
# Beyond this much unread body the connection is dropped rather than drained.
_DRAIN_LIMIT = 64 * 1024


class RequestFailed(Exception):
    """The request could not be completed (DNS, connect, TLS, timeout); it may work later."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes  # at most RESPONSE_KEEP_BYTES
    duration_ms: int


class _GuardedConnectionMixin:
    """Resolve, check every address, then connect to a checked one (see the module doc)."""

    _inline_body: bytes | None = None

    def request(self, method, url, body=None, headers=None, **kwargs):
        # urllib3 writes the headers and the body with two send() calls; a webhook body is
        # small, so it goes out with the headers in one (half the system calls per request,
        # which is much of the client's CPU time in a large fan-out).
        if isinstance(body, bytes):
            self._inline_body = body
            headers = {**(headers or {}), "content-length": str(len(body))}
            body = None
        return super().request(method, url, body=body, headers=headers, **kwargs)

    def send(self, data):
        # The first send after request() is the header block: append the body to it.
        inline, self._inline_body = self._inline_body, None
        if inline is not None and isinstance(data, bytes):
            data += inline
        return super().send(data)

    def _new_conn(self) -> socket.socket:
        host = self._dns_host.strip("[]")
        try:
            answers = socket.getaddrinfo(host, self.port, 0, socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        # Every answer is checked before any is tried: a name answering with one public and
        # one private address must not reach the private one on a retry or fallback.
        for *_, sockaddr in answers:
            problem = address_problem(ipaddress.ip_address(sockaddr[0].split("%")[0]))
            if problem:
                raise RefusedTarget(f"Refused: {self.host} resolves to {problem}.")
        last_error: OSError | None = None
        for family, socktype, proto, _, sockaddr in answers:
            sock = socket.socket(family, socktype, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(self.timeout)
                sock.connect(sockaddr)
            except TimeoutError as error:
                sock.close()
                raise ConnectTimeoutError(
                    self, f"Connecting to {self.host} timed out after {self.timeout} s."
                ) from error
            except OSError as error:
                sock.close()
                last_error = error
                continue
            peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
            problem = address_problem(peer)
            if problem:  # cannot happen unless the resolver lied between the two steps
                sock.close()
                raise RefusedTarget(f"Refused: connected to {problem}.")
            return sock
        raise NewConnectionError(self, f"Could not connect to {self.host}: {last_error}")


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class _GuardedPoolManager(urllib3.PoolManager):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


_manager: _GuardedPoolManager | None = None
_manager_lock = threading.Lock()


def _pool_manager() -> _GuardedPoolManager:
    global _manager
    with _manager_lock:
        if _manager is None:
            _manager = _GuardedPoolManager(
                num_pools=200,
                maxsize=max(1, settings.ALERTS_SEND_CONCURRENCY),
                block=False,
                retries=False,
            )
        return _manager


def post(url: str, *, body: bytes, headers: dict[str, str]) -> HttpResponse:
    """POST ``body`` to ``url`` once. Any answer is returned (the caller judges the status).

    Raises RefusedTarget when the guard refuses the URL or the address (nothing was sent)
    and RequestFailed when the request could not be completed.
    """
    problem = url_problem(url)
    if problem:
        raise RefusedTarget(f"Refused: {problem}")
    total = settings.WEBHOOK_TOTAL_TIMEOUT
    connect = min(settings.WEBHOOK_CONNECT_TIMEOUT, total)
    started = time.monotonic()
    try:
        response = _pool_manager().urlopen(
            "POST",
            url,
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(connect=connect, read=total),
            retries=False,
            redirect=False,
            preload_content=False,
        )
        try:
            kept = response.read(RESPONSE_KEEP_BYTES)
            _finish(response, deadline=started + total)
        finally:
            response.release_conn()
    # Most specific first: NameResolutionError is a NewConnectionError, which urllib3 makes
    # a ConnectTimeoutError too.
    except NameResolutionError as error:
        raise RequestFailed(f"Could not resolve the host name: {error.__cause__}") from error
    except NewConnectionError as error:
        raise RequestFailed(str(error).split(": ", 1)[-1]) from error
    except ConnectTimeoutError as error:
        raise RequestFailed(f"Connecting timed out after {connect:g} s.") from error
    except ReadTimeoutError as error:
        raise RequestFailed(f"No complete answer within {total:g} s.") from error
    except SSLError as error:
        raise RequestFailed(f"TLS error: {error}") from error
    except (HTTPError, OSError) as error:
        raise RequestFailed(f"Request failed: {error}") from error
    return HttpResponse(
        status=response.status,
        body=kept,
        duration_ms=round((time.monotonic() - started) * 1000),
    )


def _finish(response: urllib3.BaseHTTPResponse, *, deadline: float) -> None:
    """Read what is left of a short body so the connection can be reused; drop the
    connection when the body is long or time is up."""
    drained = 0
    while drained <= _DRAIN_LIMIT and time.monotonic() < deadline:
        chunk = response.read(16 * 1024)
        if not chunk:
            return
        drained += len(chunk)
    response.close()
