"""A local stand-in for EDGAR on pytest-httpserver: submissions documents, page files and the
current-filings feed, with ETags, and a log of every request (time, path, headers)."""

import gzip
import hashlib
import threading
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from werkzeug import Request, Response

from .edgar_data import dumps, feed


@dataclass
class Seen:
    at: float
    path: str
    query: dict
    headers: dict


class EdgarStandIn:
    def __init__(self, httpserver):
        self.server = httpserver
        self.url = httpserver.url_for("").rstrip("/")
        self.documents: dict[str, bytes] = {}  # path -> body
        self.overrides: dict[str, object] = {}  # path -> Response or callable(request)
        self.feed_entries: list[tuple[str, str, int, str]] = []  # newest first
        self.with_etags = True
        self.gzip = False
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        httpserver.expect_request(__import__("re").compile(".*")).respond_with_handler(self._handle)

    def company(self, cik: int, document) -> None:
        self.documents[f"/submissions/CIK{cik:010d}.json"] = (
            document if isinstance(document, bytes) else dumps(document)
        )

    def page(self, name: str, document) -> None:
        self.documents[f"/submissions/{name}"] = (
            document if isinstance(document, bytes) else dumps(document)
        )

    def paths(self) -> list[str]:
        return [seen.path for seen in self.requests]

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(
                Seen(time.monotonic(), request.path, parse_qs(request.query_string.decode()),
                     dict(request.headers))
            )  # fmt: skip
        override = self.overrides.get(request.path)
        if isinstance(override, Response):
            return override
        if override is not None:
            return override(request)
        if request.path == "/cgi-bin/browse-edgar":
            query = parse_qs(request.query_string.decode())
            start, count = int(query["start"][0]), int(query["count"][0])
            return Response(
                feed(self.feed_entries[start : start + count]), content_type="application/atom+xml"
            )
        body = self.documents.get(request.path)
        if body is None:
            return Response("Not found", status=404)
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if self.with_etags and request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        headers = {"ETag": etag} if self.with_etags else {}
        if self.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        return Response(body, content_type="application/json", headers=headers)
