"""The one HTTP client that fetches from EDGAR.

It fetches only from the two configured hosts (``EDGAR_BASE_URL``, ``EDGAR_ARCHIVES_URL``),
declares the User-Agent the SEC requires on every request, asks for gzip, draws each request
from the shared rate limit, sends the last answer's validators so that an unchanged document
costs a 304, honours Retry-After and treats the SEC's "Request Rate Threshold Exceeded" page
as an order to slow down. Those hosts are the operator's own configuration, so the webhook
transports' SSRF guard does not apply; no other URL can be fetched through this client.
"""

import email.utils
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings

from .ratelimit import NoSlot, rate_limiter

# Largest document read (the biggest filers' submissions run to a few megabytes).
MAX_BODY_BYTES = 64 * 1024 * 1024
# A 429/503 asking to wait at most this long is retried in place; a longer wait fails the
# sync (the limiter still pauses every client for it).
MAX_INLINE_RETRY_WAIT = 10.0
_ATTEMPTS = 3
_THRESHOLD_PAGE = b"Request Rate Threshold Exceeded"
MISSING_USER_AGENT = (
    "EDGAR_USER_AGENT is not set. The SEC requires every request to name your organization "
    "and a contact address: set EDGAR_USER_AGENT, e.g. 'Example Corp ops@example.com'."
)


class FetchError(Exception):
    """EDGAR could not give the document; the message says why, for the sync state."""


class NotFound(FetchError):
    pass


class Throttled(FetchError):
    """No request could be made within the client's maximum wait; nothing was asked."""


class MissingUserAgent(FetchError):
    def __init__(self):
        super().__init__(MISSING_USER_AGENT)


@dataclass(frozen=True)
class Document:
    body: bytes
    etag: str = ""
    last_modified: str = ""


class EdgarClient:
    """Fetches EDGAR's documents. Raises MissingUserAgent when EDGAR_USER_AGENT is unset.

    ``max_wait``: the longest a request may wait for its rate-limit slot before Throttled is
    raised (None: as long as the limit requires; the feed poll must not stall)."""

    def __init__(self, *, limiter=None, max_wait: float | None = None):
        user_agent = settings.EDGAR_USER_AGENT.strip()
        if not user_agent:
            raise MissingUserAgent()
        self.base_url = settings.EDGAR_BASE_URL.rstrip("/")
        self.archives_url = settings.EDGAR_ARCHIVES_URL.rstrip("/")
        self._hosts = {_origin(self.base_url), _origin(self.archives_url)}
        self.limiter = limiter or rate_limiter()
        self.max_wait = max_wait
        self.timeout = (settings.EDGAR_CONNECT_TIMEOUT, settings.EDGAR_READ_TIMEOUT)
        self.requests_made = 0
        self._session = requests.Session()
        # No proxies or .netrc from the environment: requests go to the configured hosts.
        self._session.trust_env = False
        self._session.headers.update({"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate"})

    def close(self) -> None:
        self._session.close()

    def submissions(self, cik: int, *, etag: str = "", last_modified: str = "") -> Document | None:
        """The company's submissions document; None when unchanged since ``etag`` /
        ``last_modified`` (a 304)."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        url = f"{self.base_url}/submissions/CIK{cik:010d}.json"
        response, body = self._get(url, headers, missing=f"EDGAR knows no company with CIK {cik}")
        if response.status_code == 304:
            return None
        return Document(
            body=body,
            etag=response.headers.get("ETag", ""),
            last_modified=response.headers.get("Last-Modified", ""),
        )

    def page(self, name: str) -> bytes:
        """One of the company's older page files (``filings.files``)."""
        url = f"{self.base_url}/submissions/{name}"
        return self._get(url, {}, missing=f"EDGAR has no page file {name}")[1]

    def feed_page(self, *, start: int, count: int) -> bytes:
        """A page of the current-filings Atom feed, newest first."""
        query = urlencode(
            {
                "action": "getcurrent", "type": "", "company": "", "dateb": "",
                "owner": "include", "start": start, "count": count, "output": "atom",
            }
        )  # fmt: skip
        url = f"{self.archives_url}/cgi-bin/browse-edgar?{query}"
        return self._get(url, {}, missing="EDGAR has no current-filings feed")[1]

    def _get(self, url: str, headers: dict, *, missing: str) -> tuple[requests.Response, bytes]:
        if _origin(url) not in self._hosts:
            raise FetchError(f"{url} is not on a configured EDGAR host.")
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                self.limiter.acquire(max_wait=self.max_wait)
            except NoSlot as error:
                raise Throttled(f"No EDGAR request made: {error}.") from error
            self.requests_made += 1
            response, body = self._request(url, headers)
            status = response.status_code
            if status in (429, 503):
                wait = _retry_after(response)
                self.limiter.pause(wait)
                if wait <= MAX_INLINE_RETRY_WAIT and attempt < _ATTEMPTS:
                    continue  # the limiter holds the next request back until then
                raise FetchError(f"EDGAR is busy (HTTP {status}); it asked to retry in {wait:g} s.")
            if status == 403 and _THRESHOLD_PAGE in body:
                pause = settings.EDGAR_BLOCKED_PAUSE
                self.limiter.pause(pause)
                raise FetchError(
                    "EDGAR says the request rate threshold was exceeded; every EDGAR request "
                    f"now waits {pause:g} s."
                )
            if status == 404:
                raise NotFound(f"{missing} (HTTP 404).")
            if status not in (200, 304):
                raise FetchError(f"EDGAR answered HTTP {status} for {url}.")
            return response, body
        raise AssertionError("unreachable")  # the loop returns or raises

    def _request(self, url: str, headers: dict) -> tuple[requests.Response, bytes]:
        # The read timeout bounds each wait for data; the deadline bounds the whole answer,
        # so a server trickling bytes cannot hold a worker.
        deadline = time.monotonic() + sum(self.timeout)
        try:
            with self._session.get(
                url, headers=headers, timeout=self.timeout, allow_redirects=False, stream=True
            ) as response:
                chunks, size = [], 0
                for chunk in response.iter_content(64 * 1024):
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        raise FetchError(f"EDGAR's answer for {url} is larger than expected.")
                    if time.monotonic() > deadline:
                        raise requests.Timeout()
                    chunks.append(chunk)
                return response, b"".join(chunks)
        except requests.Timeout as error:
            raise FetchError(
                f"EDGAR did not answer within {sum(self.timeout):g} s ({url})."
            ) from error
        except requests.RequestException as error:
            raise FetchError(f"Could not fetch {url}: {error}.") from error


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _retry_after(response: requests.Response) -> float:
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return 1.0
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return 1.0
    return max(0.0, when.timestamp() - time.time())


_thread = threading.local()


def thread_client() -> EdgarClient:
    """This thread's client, kept between tasks so its connections (and TLS sessions) to
    EDGAR are reused; a new one when the settings it was made from changed."""
    key = (
        settings.EDGAR_BASE_URL, settings.EDGAR_ARCHIVES_URL, settings.EDGAR_USER_AGENT,
        settings.EDGAR_CONNECT_TIMEOUT, settings.EDGAR_READ_TIMEOUT, id(rate_limiter()),
    )  # fmt: skip
    client = getattr(_thread, "client", None)
    if client is None or _thread.key != key:
        if client is not None:
            client.close()
        _thread.client, _thread.key = EdgarClient(), key
    return _thread.client
