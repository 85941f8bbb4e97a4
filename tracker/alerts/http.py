"""The one HTTP client for outgoing webhooks, with the SSRF guard at connect time.

Built on the standard library's http.client (no environment proxies, no redirects, explicit
timeouts) with a small keep-alive pool, so a fan-out to one receiver reuses its connections;
the pool is bounded in all and expires idle connections (``_IdlePool``).
The connection classes resolve the host themselves, check every address the name resolves
to with ``tracker.alerts.guard.address_problem`` and connect to a checked address, so
neither a DNS answer nor a redirect can lead a request somewhere the guard refuses.
The total timeout is a deadline for the whole request: DNS, connect, send and every read of
the answer get only the time left, so a receiver cannot stretch a send by answering slowly.

Why not a library (urllib3's PoolManager, requests): bench/fanout.py measures the CPU per
POST of each in the same run (0.15-0.22 ms here against 0.24-0.36 ms for urllib3 and
0.7-0.95 ms for requests, on a 2-core machine where the sender is CPU-bound), and neither holds a
total deadline over every read (urllib3's total timeout sets each read's socket timeout once,
so a receiver trickling bytes outlives it) nor checks the address actually connected to
without subclassing its connection classes anyway. The pool here is the small part.
"""

import http.client
import io
import ipaddress
import logging
import select
import socket
import ssl
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from django.conf import settings

from .guard import RefusedTarget, address_problem, target_refusal, url_problem

logger = logging.getLogger(__name__)

# What is kept of a response for the delivery log.
RESPONSE_KEEP_BYTES = 4096
# Beyond this much unread body the connection is dropped rather than drained.
_DRAIN_LIMIT = 64 * 1024
# Characters left as they are in a request target (RFC 3986 reserved characters and "%").
_URL_SAFE = "!#$%&'()*+,/:;=?@[]~"


class RequestFailed(Exception):
    """The request could not be completed (DNS, connect, TLS, timeout); it may work later."""


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes  # at most RESPONSE_KEEP_BYTES
    duration_ms: int


class _ConnectFailed(Exception):
    """Raised inside connect() so that post() can tell connect errors from later ones."""


def _remaining(deadline: float) -> float:
    """Seconds left until ``deadline``; a TimeoutError once there are none."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("The request's total time is up.")
    return left


_resolver: ThreadPoolExecutor | None = None
_resolver_lock = threading.Lock()


def _resolve(host: str, port: int, timeout: float) -> list:
    """getaddrinfo within ``timeout``: the resolver itself has no timeout, and a name
    server that does not answer would hold the send past its total time."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:  # a literal address: nothing to look up
        return socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    global _resolver
    with _resolver_lock:
        if _resolver is None:
            _resolver = ThreadPoolExecutor(max_workers=8, thread_name_prefix="alerts-dns")
    future = _resolver.submit(socket.getaddrinfo, host, port, 0, socket.SOCK_STREAM)
    try:
        return future.result(timeout=timeout)
    except TimeoutError as error:
        future.cancel()  # a lookup still running finishes in its thread, unread
        raise _ConnectFailed(f"Resolving {host} took longer than {timeout:g} s.") from error


def _guarded_socket(host: str, port: int, timeout: float, deadline: float) -> socket.socket:
    """Resolve, check every address, then connect to a checked one (see the module doc).
    Resolving and connecting together take at most ``timeout`` and end by ``deadline``."""
    connect_by = min(deadline, time.monotonic() + timeout)
    try:
        answers = _resolve(host.strip("[]"), port, _remaining(connect_by))
    except socket.gaierror as error:
        raise _ConnectFailed(f"Could not resolve the host name: {error}") from error
    except TimeoutError as error:
        raise _ConnectFailed(f"Connecting timed out after {timeout:g} s.") from error
    # Every answer is checked before any is tried: a name answering with one public and one
    # private address must not reach the private one on a fallback.
    for *_, sockaddr in answers:
        problem = address_problem(ipaddress.ip_address(sockaddr[0].split("%")[0]))
        if problem:
            logger.warning("Refused webhook target %s: it resolves to %s", host, problem)
            raise RefusedTarget(target_refusal(host))
    last_error: OSError | None = None
    for family, socktype, proto, _, sockaddr in answers:
        sock = socket.socket(family, socktype, proto)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(_remaining(connect_by))
            sock.connect(sockaddr)
        except TimeoutError as error:
            sock.close()
            raise _ConnectFailed(f"Connecting timed out after {timeout:g} s.") from error
        except OSError as error:
            sock.close()
            last_error = error
            continue
        peer = ipaddress.ip_address(sock.getpeername()[0].split("%")[0])
        problem = address_problem(peer)
        if problem:  # cannot happen unless the resolver lied between the two steps
            sock.close()
            logger.warning("Refused webhook target %s: it connected to %s", host, problem)
            raise RefusedTarget(target_refusal(host))
        return sock
    raise _ConnectFailed(f"Could not connect to {host}: {last_error}")


class _DeadlineReader(io.RawIOBase):
    """The socket as the response reads it, each read given only the time left until the
    deadline. (A plain socket timeout restarts on every read, so a receiver sending a byte
    now and then could hold a send for ever.)"""

    def __init__(self, sock: socket.socket, deadline: float):
        self._sock = sock
        # The socket's own raw file, so the socket stays open while the response reads
        # (http.client closes the connection's socket before the body of a last answer).
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self._sock.settimeout(_remaining(self._deadline))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """What http.client.HTTPResponse needs of a socket: ``makefile``."""

    def __init__(self, sock: socket.socket, deadline: float):
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str = "rb", *args, **kwargs):
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))


class _DeadlineMixin:
    """Holds every step of a request to one deadline (set per request by ``post``) and
    sends a small body in the same write as the headers (http.client writes them apart,
    which doubles the system calls and, with Nagle's algorithm, can wait for an ACK)."""

    _inline_body: bytes | None = None
    deadline: float = 0.0

    def send(self, data):
        inline, self._inline_body = self._inline_body, None
        if inline is not None and isinstance(data, bytes):
            data += inline
        if self.sock is not None:
            # sendall's timeout covers the whole call.
            self.sock.settimeout(_remaining(self.deadline))
        return super().send(data)

    def response_class(self, sock, *args, **kwargs):
        # Called as ``self.response_class(self.sock, method=...)`` by getresponse().
        return http.client.HTTPResponse(_DeadlineSocket(sock, self.deadline), *args, **kwargs)


class _GuardedHTTPConnection(_DeadlineMixin, http.client.HTTPConnection):
    def connect(self):
        self.sock = _guarded_socket(self.host, self.port, self.timeout, self.deadline)


class _GuardedHTTPSConnection(_DeadlineMixin, http.client.HTTPSConnection):
    def connect(self):
        sock = _guarded_socket(self.host, self.port, self.timeout, self.deadline)
        try:
            sock.settimeout(_remaining(self.deadline))
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except (ssl.SSLError, ssl.CertificateError) as error:
            sock.close()
            raise _ConnectFailed(f"TLS error: {error}") from error
        except BaseException:
            sock.close()
            raise


class _IdlePool:
    """Idle keep-alive connections, for reuse by the next request to the same receiver: at
    most ``WEBHOOK_IDLE_CONNECTIONS`` in all (the least recently used is closed first) and
    none idle for longer than ``WEBHOOK_IDLE_TIMEOUT``, so a fan-out to thousands of hosts
    leaves a bounded number of sockets open (file descriptors that PostgreSQL and Redis
    connections need too)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_key: dict[tuple, list[http.client.HTTPConnection]] = {}
        # Every idle connection, least recently returned first: its key and when.
        self._order: OrderedDict[http.client.HTTPConnection, tuple[tuple, float]] = OrderedDict()

    def take(self, key: tuple) -> http.client.HTTPConnection | None:
        found, closing = None, []
        with self._lock:
            closing += self._expired(time.monotonic())
            stack = self._by_key.get(key, [])
            while stack and found is None:
                connection = stack.pop()
                del self._order[connection]
                if _reusable(connection):
                    found = connection
                else:
                    closing.append(connection)
            if not stack:
                self._by_key.pop(key, None)
        for connection in closing:
            connection.close()
        return found

    def give_back(self, key: tuple, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            self._by_key.setdefault(key, []).append(connection)
            self._order[connection] = (key, time.monotonic())
            closing = self._expired(time.monotonic())
            while len(self._order) > settings.WEBHOOK_IDLE_CONNECTIONS:
                closing.append(self._drop_oldest())
        for old in closing:
            old.close()

    def __len__(self) -> int:
        return len(self._order)

    def _expired(self, now: float) -> list[http.client.HTTPConnection]:
        expired = []
        oldest_kept = now - settings.WEBHOOK_IDLE_TIMEOUT
        while self._order and next(iter(self._order.values()))[1] < oldest_kept:
            expired.append(self._drop_oldest())
        return expired

    def _drop_oldest(self) -> http.client.HTTPConnection:
        connection, (key, _) = self._order.popitem(last=False)
        stack = self._by_key[key]
        stack.remove(connection)
        if not stack:
            del self._by_key[key]
        return connection


_idle = _IdlePool()


def _reusable(connection: http.client.HTTPConnection) -> bool:
    # An idle keep-alive socket that is readable has been closed by the server (or holds
    # garbage): sending on it would fail or, worse, half-succeed.
    try:
        readable, _, _ = select.select([connection.sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _take(key: tuple[str, str, int], connect_timeout: float) -> http.client.HTTPConnection:
    connection = _idle.take(key)
    if connection is not None:
        return connection
    scheme, host, port = key
    factory = _GuardedHTTPSConnection if scheme == "https" else _GuardedHTTPConnection
    return factory(host, port, timeout=connect_timeout)


def post(url: str, *, body: bytes, headers: dict[str, str]) -> HttpResponse:
    """POST ``body`` to ``url`` once. Any answer is returned (the caller judges the status).

    Raises RefusedTarget when the guard refuses the URL or the address (nothing was sent)
    and RequestFailed when the request could not be completed.
    """
    problem = url_problem(url)
    if problem:
        raise RefusedTarget(f"Refused: {problem}")
    parts = urlsplit(url)
    key = (parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    # An IRI's non-ASCII (and any space or control character) is percent-encoded, as
    # http.client sends only ASCII; what is already encoded stays as it is.
    target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_URL_SAFE)
    total = settings.WEBHOOK_TOTAL_TIMEOUT
    connect = min(settings.WEBHOOK_CONNECT_TIMEOUT, total)
    started = time.monotonic()
    connection = _take(key, connect)
    # Connecting, sending and reading the answer all end by this time (see _DeadlineMixin).
    connection.deadline = started + total
    try:
        if connection.sock is None:
            connection.connect()
        connection.putrequest("POST", target, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("content-length", str(len(body)))
        connection._inline_body = body
        connection.endheaders()
        response = connection.getresponse()
        kept = response.read(RESPONSE_KEEP_BYTES)
        reusable = _finish(response, deadline=started + total)
    except RefusedTarget:
        connection.close()
        raise
    except _ConnectFailed as error:
        connection.close()
        raise RequestFailed(str(error)) from error
    except TimeoutError as error:
        connection.close()
        raise RequestFailed(f"No complete answer within {total:g} s.") from error
    except ssl.SSLError as error:
        connection.close()
        raise RequestFailed(f"TLS error: {error}") from error
    except (http.client.HTTPException, OSError) as error:
        connection.close()
        raise RequestFailed(f"Request failed: {error!r}") from error
    except BaseException:  # bad input (a header value with a newline): the caller decides
        connection.close()
        raise
    if reusable:
        _idle.give_back(key, connection)
    else:
        connection.close()
    return HttpResponse(
        status=response.status,
        body=kept,
        duration_ms=round((time.monotonic() - started) * 1000),
    )


def _finish(response: http.client.HTTPResponse, *, deadline: float) -> bool:
    """Read what is left of a short body; True when the connection can serve another
    request (the answer was read to its end and the server keeps the connection open)."""
    drained = 0
    while not response.isclosed():
        if drained > _DRAIN_LIMIT or time.monotonic() >= deadline:
            return False
        try:
            chunk = response.read(16 * 1024)
        except (TimeoutError, OSError, http.client.HTTPException):
            return False  # the answer kept so far stands; the connection is not reused
        if not chunk:
            break
        drained += len(chunk)
    return not response.will_close
