"""The one HTTP client for outgoing webhooks, with the SSRF guard at connect time.

Plain sockets with a small keep-alive pool, so a fan-out to one receiver reuses its
connections; the pool is bounded in all and expires idle connections (``_IdlePool``). No
environment proxies, no redirects, explicit timeouts.
Connecting resolves the host here, checks every address the name resolves to with
``tracker.alerts.guard.address_problem`` and connects to a checked address, so neither a
DNS answer nor a redirect can lead a request somewhere the guard refuses.
The total timeout is a deadline for the whole request: DNS, connect, send and every read of
the answer get only the time left, so a receiver cannot stretch a send by answering slowly.

The request is one write of a head this module formats (a POST with a known length) and the
body; the answer is read by httptools (llhttp, the C parser of Node.js), which does the
protocol's hard part: status line, headers, chunked and length-delimited bodies, keep-alive.

Why not a client library (urllib3's PoolManager, requests): the sender is CPU-bound on a
fan-out, and bench/fanout.py measures the CPU per POST of each, sequentially in the same run
(2026-11-29: this client 0.09-0.15 ms, urllib3 0.23-0.24 ms, requests 0.62-0.65 ms; the
standard library's http.client, which this module used before, 0.15-0.16 ms, most of it
reading the answer's headers with the email package). With sixteen sender threads beside the
claims and the recording, the same change took the worker's CPU per POST from 0.31 to about
0.15-0.18 ms. Neither library holds a total deadline over every read (urllib3's total
timeout sets each read's socket timeout once, so a receiver trickling bytes outlives it) nor
checks the address actually connected to without subclassing its connection classes anyway.
"""

import ipaddress
import logging
import re
import select
import socket
import ssl
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import httptools
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
    """Raised while resolving and connecting, so that post() can tell connect errors from
    later ones."""


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


class _IdlePool:
    """Idle keep-alive connections, for reuse by the next request to the same receiver: at
    most ``WEBHOOK_IDLE_CONNECTIONS`` in all (the least recently used is closed first) and
    none idle for longer than ``WEBHOOK_IDLE_TIMEOUT``, so a fan-out to thousands of hosts
    leaves a bounded number of sockets open (file descriptors that PostgreSQL and Redis
    connections need too)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_key: dict[tuple, list[socket.socket]] = {}
        # Every idle connection, least recently returned first: its key and when.
        self._order: OrderedDict[socket.socket, tuple[tuple, float]] = OrderedDict()

    def take(self, key: tuple) -> socket.socket | None:
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

    def give_back(self, key: tuple, connection: socket.socket) -> None:
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

    def _expired(self, now: float) -> list[socket.socket]:
        expired = []
        oldest_kept = now - settings.WEBHOOK_IDLE_TIMEOUT
        while self._order and next(iter(self._order.values()))[1] < oldest_kept:
            expired.append(self._drop_oldest())
        return expired

    def _drop_oldest(self) -> socket.socket:
        connection, (key, _) = self._order.popitem(last=False)
        stack = self._by_key[key]
        stack.remove(connection)
        if not stack:
            del self._by_key[key]
        return connection


_idle = _IdlePool()


def _reusable(connection: socket.socket) -> bool:
    # An idle keep-alive socket that is readable has been closed by the server (or holds
    # garbage): sending on it would fail or, worse, half-succeed.
    try:
        readable, _, _ = select.select([connection], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _connect(key: tuple[str, str, int], timeout: float, deadline: float) -> socket.socket:
    scheme, host, port = key
    sock = _guarded_socket(host, port, timeout, deadline)
    if scheme != "https":
        return sock
    try:
        sock.settimeout(_remaining(deadline))
        # A context per connection, as http.client made one: it reads SSL_CERT_FILE and
        # the system's certificates as they are now.
        context = ssl.create_default_context()
        context.set_alpn_protocols(["http/1.1"])
        return context.wrap_socket(sock, server_hostname=host)
    except (ssl.SSLError, ssl.CertificateError) as error:
        sock.close()
        raise _ConnectFailed(f"TLS error: {error}") from error
    except BaseException:
        sock.close()
        raise


def post(url: str, *, body: bytes, headers: dict[str, str]) -> HttpResponse:
    """POST ``body`` to ``url`` once. Any answer is returned (the caller judges the status).

    Raises RefusedTarget when the guard refuses the URL or the address (nothing was sent),
    RequestFailed when the request could not be completed, and ValueError for a header
    that cannot be sent (a name that is not a token, a value with a line break: bad input,
    not a failure that a retry could mend).
    """
    problem = url_problem(url)
    if problem:
        raise RefusedTarget(f"Refused: {problem}")
    parts = urlsplit(url)
    default_port = 443 if parts.scheme == "https" else 80
    key = (parts.scheme, parts.hostname, parts.port or default_port)
    # An IRI's non-ASCII (and any space or control character) is percent-encoded, as only
    # ASCII may be sent; what is already encoded stays as it is.
    target = quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_URL_SAFE)
    request = _request_head(target, _host_header(key, default_port), headers, len(body)) + body
    total = settings.WEBHOOK_TOTAL_TIMEOUT
    connect = min(settings.WEBHOOK_CONNECT_TIMEOUT, total)
    started = time.monotonic()
    try:
        # Connecting, sending and reading the answer all end by the deadline.
        sock, answer = _exchange(key, request, connect, deadline=started + total)
    except _ConnectFailed as error:
        raise RequestFailed(str(error)) from error
    except TimeoutError as error:
        raise RequestFailed(f"No complete answer within {total:g} s.") from error
    except ssl.SSLError as error:
        raise RequestFailed(f"TLS error: {error}") from error
    except (httptools.HttpParserError, OSError) as error:
        raise RequestFailed(f"Request failed: {error!r}") from error
    if answer.reusable:
        _idle.give_back(key, sock)
    else:
        sock.close()
    return HttpResponse(
        status=answer.status,
        body=bytes(answer.kept),
        duration_ms=round((time.monotonic() - started) * 1000),
    )


def _exchange(
    key: tuple[str, str, int], request: bytes, connect_timeout: float, *, deadline: float
) -> tuple[socket.socket, "_Answer"]:
    """Send ``request`` on an idle kept-alive connection or a new one and read the answer;
    the socket is closed on any error."""
    sock = _idle.take(key) or _connect(key, connect_timeout, deadline)
    try:
        sock.settimeout(_remaining(deadline))  # sendall's timeout covers the whole call
        sock.sendall(request)
        return sock, _Answer.read(sock, deadline)
    except BaseException:
        sock.close()
        raise


def _host_header(key: tuple[str, str, int], default_port: int) -> str:
    _, host, port = key
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    return host if port == default_port else f"{host}:{port}"


def _request_head(target: str, host: str, headers: dict[str, str], length: int) -> bytes:
    lines = [f"POST {target} HTTP/1.1", f"Host: {host}"]
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a header name.")
        if _ILLEGAL_IN_VALUE.search(value):
            raise ValueError(f"The header {name!r} holds a line break or NUL character.")
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {length}")
    # Latin-1, as HTTP/1.1 allows in header values; anything beyond it is refused here.
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


# RFC 9110: a header name is a token; a value must not break the line.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ILLEGAL_IN_VALUE = re.compile(r"[\r\n\x00]")


class _Answer:
    """One answer, as httptools' parser calls back while reading it: its status, the first
    RESPONSE_KEEP_BYTES of its body, and whether the connection may carry another request
    (read to its end, kept alive by the server, nothing after it)."""

    def __init__(self):
        self._parser = httptools.HttpResponseParser(self)
        # As forgiving as http.client was of receivers' sloppy answers (bare LF line ends,
        # control characters in header values): rejecting them would retry a webhook the
        # receiver has taken. Nothing here lets an answer end sooner than its framing says.
        self._parser.set_dangerous_leniencies(
            lenient_optional_cr_before_lf=True, lenient_headers=True
        )
        self.status = 0
        self.kept = bytearray()
        self.body_bytes = 0
        self.complete = False
        self.reusable = False

    @classmethod
    def read(cls, sock: socket.socket, deadline: float) -> "_Answer":
        """Read one answer. Once the receiver has answered (a final status, and the kept
        part of the body if there is more), a stall, a reset or broken framing in the rest
        ends only the reading: the answer stands and the connection is dropped."""
        answer = cls()
        while not answer.complete:
            if answer.body_bytes > RESPONSE_KEEP_BYTES + _DRAIN_LIMIT:
                return answer  # not worth draining: the connection is dropped
            try:
                sock.settimeout(_remaining(deadline))
                data = sock.recv(64 * 1024)
                if not data:  # closed by the server
                    if not answer.status:
                        raise RequestFailed("The receiver closed the connection without an answer.")
                    return answer  # a body that ends with the connection (or was cut short)
                answer._parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                answer.reusable = False  # a protocol switch (101): the socket is no longer HTTP
                return answer
            except httptools.HttpParserError:
                answer.status = answer.status or answer._parser.get_status_code()
                if answer.status < 200:
                    raise
                answer.reusable = False
                return answer
            except OSError:  # a timeout too
                if answer.body_bytes < RESPONSE_KEEP_BYTES:
                    raise
                answer.reusable = False
                return answer
        return answer

    # Once the answer is complete, whatever follows it only makes the connection unusable.

    def on_message_begin(self):
        if self.complete:  # a second answer to one request: the connection is out of step
            self.reusable = False

    def on_headers_complete(self):
        if not self.complete:
            self.status = self._parser.get_status_code()

    def on_body(self, data: bytes):
        if self.complete:
            return
        self.body_bytes += len(data)
        room = RESPONSE_KEEP_BYTES - len(self.kept)
        if room > 0:
            self.kept += data[:room]

    def on_message_complete(self):
        if self.complete:
            return
        if 100 <= self.status < 200 and self.status != 101:
            # An interim answer (100 Continue, 103 Early Hints): the real one follows.
            self.status = 0
            return
        self.complete = True
        self.reusable = self._parser.should_keep_alive()
