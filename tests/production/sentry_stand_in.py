"""A local stand-in for Sentry's ingestion endpoint: a real HTTP server that receives the
SDK's envelopes (https://develop.sentry.dev/sdk/envelopes/) and keeps their events."""

import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SentryStandIn:
    def __init__(self):
        self.events: list[dict] = []
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "br":  # the SDK's choice when brotli is installed
                    import brotli

                    body = brotli.decompress(body)
                stand_in._receive(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.server.server_port}/1"

    def _receive(self, envelope: bytes) -> None:
        # Header line, then (item header, payload) pairs, newline-separated.
        lines = envelope.split(b"\n")[1:]
        for header, payload in zip(lines[::2], lines[1::2], strict=False):
            if header.strip() and json.loads(header).get("type") == "event":
                with self._lock:
                    self.events.append(json.loads(payload))

    def exceptions(self) -> list[tuple[str, str]]:
        """(type, value) of every exception received so far."""
        with self._lock:
            return [
                (value["type"], value["value"])
                for event in self.events
                for value in event.get("exception", {}).get("values", [])
            ]

    def wait_for(self, value: str, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for event in self.events:
                    values = event.get("exception", {}).get("values", [])
                    if any(v["value"] == value for v in values):
                        return event
            time.sleep(0.1)
        raise AssertionError(f"No Sentry event for {value!r}; received {self.exceptions()}")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
