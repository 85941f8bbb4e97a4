"""A real local HTTP server that receives webhooks, for the tests and the benchmarks.

It records every request (headers, body, arrival time), counts TCP connections, and answers
from a per-path script of (status, delay) pairs, then 200. Run as a program it serves in its
own process (the benchmarks do that, so that it does not share a GIL with what it measures):

    python -m tests.alerts.receiver --port 0     # prints the port, then serves
"""

import argparse
import contextlib
import json
import selectors
import socket
import sys
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float  # time.time()

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")

    def json(self):
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real receivers

    def setup(self):
        super().setup()
        # Without this the header and body writes of an answer wait for the client's delayed
        # ACK (Nagle's algorithm), adding about 40 ms to every request on a kept-alive socket.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length)
        receiver: Receiver = self.server.receiver
        receiver._record(
            Received(
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
                received_at=time.time(),
            )
        )
        status, delay, extra_headers, payload = receiver._next_answer(self.path)
        with receiver._busy(self.path):
            if isinstance(delay, threading.Event):
                delay.wait(60)  # held until the test lets it go
            elif delay:
                time.sleep(delay)
        if payload is None:
            payload = b'{"ok": true}' if 200 <= status < 300 else b'{"error": "scripted"}'
        try:
            self.send_response(status)
            for name, value in extra_headers.items():
                self.send_header(name, value)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:
            pass  # the sender gave up (timeout) or died

    def do_GET(self):
        receiver: Receiver = self.server.receiver
        if self.path == "/_stats":
            payload = json.dumps(receiver.stats()).encode()
        elif self.path == "/_log":
            payload = json.dumps(
                [{"id": r.webhook_id, "at": r.received_at} for r in receiver.snapshot()]
            ).encode()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def get_request(self):
        sock, address = super().get_request()
        with self.receiver._lock:
            self.receiver.connections += 1
        return sock, address


class _Server6(_Server):
    address_family = socket.AF_INET6


class Receiver:
    """Start with ``start()``; ``url(path)`` gives the address; ``requests`` what arrived."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        server_class = _Server6 if ":" in host else _Server
        self._server = server_class((host, port), _Handler)
        self._server.receiver = self
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._scripts: dict[str, deque] = defaultdict(deque)
        self.requests: list[Received] = []
        self.connections = 0
        # Requests being answered now, and the most there were at once, per path.
        self.in_flight: dict[str, int] = defaultdict(int)
        self.most_in_flight: dict[str, int] = defaultdict(int)
        self.host = host
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> "Receiver":
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str = "/hook") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def script(self, path: str, *answers: tuple) -> None:
        """Answers for the next requests to ``path``: (status,), (status, delay),
        (status, delay, headers) or (status, delay, headers, body); afterwards 200 at once.
        A delay may be a threading.Event: the answer waits until it is set."""
        with self._lock:
            self._scripts[path].extend(answers)

    def _next_answer(self, path: str) -> tuple[int, object, dict, bytes | None]:
        with self._lock:
            answer = self._scripts[path].popleft() if self._scripts[path] else (200,)
        delay = answer[1] if len(answer) > 1 else 0.0
        headers = answer[2] if len(answer) > 2 else {}
        body = answer[3] if len(answer) > 3 else None
        return answer[0], delay, headers, body

    @contextlib.contextmanager
    def _busy(self, path: str):
        with self._lock:
            self.in_flight[path] += 1
            self.most_in_flight[path] = max(self.most_in_flight[path], self.in_flight[path])
        try:
            yield
        finally:
            with self._lock:
                self.in_flight[path] -= 1

    def _record(self, received: Received) -> None:
        with self._arrived:
            self.requests.append(received)
            self._arrived.notify_all()

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.requests)

    def stats(self) -> dict:
        with self._lock:
            return {"requests": len(self.requests), "connections": self.connections}

    def wait_for(self, count: int, timeout: float = 20.0, path: str | None = None) -> list:
        """Wait until ``count`` requests (to ``path``, if given) arrived; return them."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                found = [r for r in self.requests if path is None or r.path == path]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"{len(found)} of {count} expected requests arrived in {timeout} s"
                    )
                self._arrived.wait(remaining)


class Blackhole:
    """Listening sockets that accept connections and never answer (nor read), like a
    receiver whose application hangs; ``ports`` of them in one thread with a selector."""

    def __init__(self, ports: int = 1, host: str = "127.0.0.1"):
        self.host = host
        self._selector = selectors.DefaultSelector()
        self._listeners = []
        self._held: list[socket.socket] = []
        self.accepted = 0
        for _ in range(ports):
            listener = socket.create_server((host, 0), backlog=1024)
            listener.setblocking(False)
            self._selector.register(listener, selectors.EVENT_READ)
            self._listeners.append(listener)
        self.ports = [listener.getsockname()[1] for listener in self._listeners]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def start(self) -> "Blackhole":
        self._thread.start()
        return self

    def url(self, path: str = "/hook", index: int = 0) -> str:
        return f"http://{self.host}:{self.ports[index]}{path}"

    def _serve(self) -> None:
        while not self._stopped.is_set():
            for key, _ in self._selector.select(timeout=0.1):
                with contextlib.suppress(BlockingIOError):
                    sock, _ = key.fileobj.accept()
                    self._held.append(sock)
                    self.accepted += 1

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(5)
        for sock in self._held + self._listeners:
            sock.close()
        self._selector.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    receiver = Receiver(args.host, args.port)
    print(receiver.port, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        receiver._server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
