"""A local stand-in for EDGAR for the benchmarks, in its own process.

Serves ``/submissions/CIK##########.json`` for the companies ``--base-cik`` ..
``--base-cik + --organizations - 1`` (with ETags and 304s), the current-filings Atom feed,
and, for the benchmark script, ``/_stats`` (requests counted, and the most seen in any one
second: the rate limit as EDGAR would judge it), ``POST /_publish?cik=&form=`` (a new filing)
and ``/_published`` (what was published when). ``--noise-per-second`` adds filings of
companies nobody follows to the feed.

    python bench/_edgar_standin.py --organizations 500 --filings 150 --ipo
"""

import argparse
import bisect
import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

_KEYS = ("accessionNumber", "filingDate", "reportDate", "acceptanceDateTime", "act", "form",
         "fileNumber", "filmNumber", "items", "size", "isXBRL", "isInlineXBRL",
         "primaryDocument", "primaryDocDescription")  # fmt: skip
_IPO = [  # (form, date, file number)
    ("DRS", "2021-01-11", "377-0"), ("DRSLTR", "2021-02-01", ""), ("UPLOAD", "2021-02-08", ""),
    ("DRS/A", "2021-03-01", "377-0"), ("S-1", "2021-05-03", "333-R"),
    ("UPLOAD", "2021-05-20", ""), ("CORRESP", "2021-05-25", ""), ("S-1/A", "2021-06-10", "333-R"),
    ("8-A12B", "2021-06-14", "001-X"), ("CERTNAS", "2021-06-15", "001-X"),
    ("EFFECT", "2021-06-16", "333-R"), ("424B4", "2021-06-18", "333-R"),
]  # fmt: skip
_LIFE = ["10-Q", "8-K", "4", "8-K", "4", "10-K", "SC 13G", "4"]


class Company:
    def __init__(self, cik: int, filings: int, ipo: bool):
        self.cik = cik
        self.rows: list[tuple] = []
        self.sequence = 0
        if ipo:
            for form, date, number in _IPO:
                self.add(form, date, number.replace("R", str(cik % 100000)).replace("X", "4"))
        start = datetime.date(2021, 7, 1)
        for n in range(max(0, filings - len(self.rows))):
            day = start + datetime.timedelta(days=n * 9)
            self.add(_LIFE[n % len(_LIFE)], day.isoformat(), "")
        self._body: bytes | None = None

    def add(self, form: str, date: str, file_number: str) -> str:
        self.sequence += 1
        accession = f"{self.cik:010d}-{date[2:4]}-{self.sequence:06d}"
        self.rows.append((accession, date, form, file_number))
        self._body = None
        return accession

    @property
    def etag(self) -> str:
        return f'"{self.cik}-{self.sequence}"'

    def body(self) -> bytes:
        if self._body is None:
            rows = sorted(self.rows, key=lambda r: (r[1], r[0]), reverse=True)
            recent = {key: [] for key in _KEYS}
            for accession, date, form, number in rows:
                values = (accession, date, "", f"{date}T16:00:00.000Z", "33", form, number,
                          "", "", 1000, 0, 0, "d.htm", "")  # fmt: skip
                for key, value in zip(_KEYS, values, strict=True):
                    recent[key].append(value)
            self._body = json.dumps(
                {
                    "cik": f"{self.cik:010d}",
                    "name": f"Company {self.cik}",
                    "tickers": [],
                    "filings": {"recent": recent, "files": []},
                }  # fmt: skip
            ).encode()
        return self._body


class StandIn:
    def __init__(self, args):
        self.args = args
        self.companies: dict[int, Company] = {}
        self.lock = threading.Lock()
        self.times: list[float] = []
        self.counts = {"submissions": 0, "feed": 0, "304": 0}
        self.feed: list[tuple[str, str, int]] = []  # newest first: (accession, form, cik)
        self.published: list[dict] = []
        self.noise_sequence = 0

    def company(self, cik: int) -> Company | None:
        if not self.args.base_cik <= cik < self.args.base_cik + self.args.organizations:
            return None
        with self.lock:
            if cik not in self.companies:
                self.companies[cik] = Company(cik, self.args.filings, self.args.ipo)
            return self.companies[cik]

    def publish(self, cik: int, form: str) -> dict:
        company = self.company(cik)
        today = datetime.date.today().isoformat()
        number = f"333-{cik % 100000}" if form.startswith("S-1") else ""
        with self.lock:
            accession = company.add(form, today, number)
            self.feed.insert(0, (accession, form, cik))
            del self.feed[5000:]
            item = {"accession": accession, "cik": cik, "form": form, "at": time.time()}
            self.published.append(item)
        return item

    def noise(self) -> None:
        with self.lock:
            self.noise_sequence += 1
            accession = f"0000990000-26-{self.noise_sequence:06d}"
            self.feed.insert(0, (accession, "8-K", 990000 + self.noise_sequence % 5000))
            del self.feed[5000:]

    def record(self, kind: str) -> None:
        with self.lock:
            self.times.append(time.monotonic())
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def count(self, kind: str) -> None:
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1

    def stats(self) -> dict:
        with self.lock:
            times = list(self.times)
            counts = dict(self.counts)
        most, start = 0, 0
        for end in range(len(times)):  # the most requests in any window of one second
            start = bisect.bisect_right(times, times[end] - 1.0, start, end)
            most = max(most, end - start + 1)
        return {"requests": len(times), **counts, "max_in_any_second": most}

    def feed_page(self, start: int, count: int) -> bytes:
        with self.lock:
            entries = self.feed[start : start + count]
        items = "".join(
            f"<entry><title>{form} - Company {cik} ({cik:010d}) (Filer)</title>"
            f'<category label="form type" term="{form}"/>'
            f"<id>urn:tag:sec.gov,2008:accession-number={accession}</id></entry>"
            for accession, form, cik in entries
        )
        return (
            '<?xml version="1.0" encoding="ISO-8859-1" ?>'
            f'<feed xmlns="http://www.w3.org/2005/Atom"><title>Latest Filings</title>{items}</feed>'
        ).encode()


def handler_for(stand_in: StandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict | None = None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path.startswith("/submissions/CIK"):
                stand_in.record("submissions")
                company = stand_in.company(int(parts.path[16:26]))
                if company is None:
                    return self._send(404, b"not found")
                if self.headers.get("If-None-Match") == company.etag:
                    stand_in.count("304")
                    return self._send(304, headers={"ETag": company.etag})
                return self._send(
                    200, company.body(), {"ETag": company.etag, "Content-Type": "application/json"}
                )
            if parts.path == "/cgi-bin/browse-edgar":
                stand_in.record("feed")
                start, count = int(query["start"][0]), int(query["count"][0])
                return self._send(200, stand_in.feed_page(start, count))
            if parts.path == "/_stats":
                return self._send(200, json.dumps(stand_in.stats()).encode())
            if parts.path == "/_published":
                with stand_in.lock:
                    return self._send(200, json.dumps(stand_in.published).encode())
            return self._send(404, b"not found")

        def do_POST(self):
            parts = urlsplit(self.path)
            query = parse_qs(parts.query)
            if parts.path == "/_publish":
                item = stand_in.publish(int(query["cik"][0]), query.get("form", ["8-K"])[0])
                return self._send(200, json.dumps(item).encode())
            return self._send(404, b"not found")

    return Handler


def _noise(stand_in: StandIn, per_second: float) -> None:
    while True:
        time.sleep(1.0 / per_second)
        stand_in.noise()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--organizations", type=int, default=500)
    parser.add_argument("--base-cik", type=int, default=1_000_000)
    parser.add_argument("--filings", type=int, default=150)
    parser.add_argument("--ipo", action="store_true", help="each company has an IPO history")
    parser.add_argument("--noise-per-second", type=float, default=0)
    args = parser.parse_args()
    stand_in = StandIn(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler_for(stand_in))
    server.daemon_threads = True
    if args.noise_per_second:
        threading.Thread(target=_noise, args=(stand_in, args.noise_per_second), daemon=True).start()
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
