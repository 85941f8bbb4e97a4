"""EDGAR's documents read into plain dataclasses.

Tolerant of what changes over the years (unknown keys are ignored, missing optional ones
default), strict about what cannot be trusted: a document that is not JSON, is truncated, or
whose parallel arrays disagree in length is refused with ParseError, never half-read.
"""

import datetime
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field

from tracker.validators import ACCESSION_RE

_FEED_ACCESSION_RE = re.compile(r"accession-number=([0-9]{10}-[0-9]{2}-[0-9]{6})")
# "S-1 - Acme Fund (2021) Trust (0001766140) (Filer)": the 10 digits just before the role.
_FEED_CIK_RE = re.compile(r"\(([0-9]{10})\)\s*\([^)]*\)\s*$")
_ATOM = "{http://www.w3.org/2005/Atom}"


class ParseError(Exception):
    """The document cannot be read as EDGAR publishes it."""


@dataclass(frozen=True)
class FilingRow:
    """One filing of a company, as listed in its submissions."""

    accession_number: str
    form: str
    filing_date: datetime.date
    acceptance: str = ""  # acceptanceDateTime as given: only orders filings of one day
    file_number: str = ""
    description: str = ""

    @property
    def order_key(self) -> tuple:
        return (self.filing_date, self.acceptance, self.accession_number)

    def as_json(self) -> dict:
        return {**asdict(self), "filing_date": self.filing_date.isoformat()}

    @classmethod
    def from_json(cls, data: dict) -> "FilingRow":
        # Rows stored by an older version may carry fields since dropped.
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**{**known, "filing_date": datetime.date.fromisoformat(data["filing_date"])})


@dataclass(frozen=True)
class PageFile:
    """An older page of filings (``filings.files``), fetched separately."""

    name: str
    filing_to: datetime.date | None = None


@dataclass(frozen=True)
class Submissions:
    cik: int
    filings: list[FilingRow]
    pages: list[PageFile] = field(default_factory=list)


@dataclass(frozen=True)
class FeedEntry:
    accession_number: str
    cik: int


def submissions_parse(raw: bytes) -> Submissions:
    """A company's submissions document (``CIK##########.json``)."""
    document = _json_object(raw)
    try:
        cik = int(str(document["cik"]))
    except (KeyError, ValueError, TypeError) as error:
        raise ParseError("The document has no valid 'cik'.") from error
    filings = document.get("filings") or {}
    if not isinstance(filings, dict):
        raise ParseError("'filings' is not an object.")
    recent = filings.get("recent") or {}
    pages = []
    for item in filings.get("files") or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ParseError("An entry of 'filings.files' has no name.")
        if "/" in item["name"] or not item["name"].endswith(".json"):
            raise ParseError(f"Unexpected page file name {item['name']!r}.")
        pages.append(
            PageFile(
                name=item["name"],
                filing_to=_optional_date(item.get("filingTo")),
            )
        )
    return Submissions(
        cik=cik,
        filings=_rows(recent, where="filings.recent"),
        pages=pages,
    )


def page_parse(raw: bytes) -> list[FilingRow]:
    """A page file: the same parallel arrays as ``filings.recent``, at the top level."""
    return _rows(_json_object(raw), where="the page file")


def feed_parse(raw: bytes) -> list[FeedEntry]:
    """One page of the current-filings Atom feed, newest first, every entry as listed (one
    filing repeats per filer role, "Filer" and "Subject"; a short page is the feed's end)."""
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as error:
        raise ParseError(f"The feed is not well-formed XML: {error}.") from error
    if root.tag != f"{_ATOM}feed":
        raise ParseError("The document is not an Atom feed.")
    entries = []
    for entry in root.iter(f"{_ATOM}entry"):
        accession = _FEED_ACCESSION_RE.search(entry.findtext(f"{_ATOM}id") or "")
        cik = _FEED_CIK_RE.search((entry.findtext(f"{_ATOM}title") or "").strip())
        if not accession or not cik:
            raise ParseError("A feed entry has no accession number or CIK.")
        entries.append(FeedEntry(accession_number=accession.group(1), cik=int(cik.group(1))))
    return entries


def _json_object(raw: bytes) -> dict:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ParseError(f"The document is not valid JSON (truncated?): {error}.") from error
    if not isinstance(document, dict):
        raise ParseError("The document is not a JSON object.")
    return document


def _rows(arrays: dict, *, where: str) -> list[FilingRow]:
    if not isinstance(arrays, dict):
        raise ParseError(f"{where} is not an object.")
    if not arrays:
        return []
    required = ("accessionNumber", "form", "filingDate")
    for name in required:
        if not isinstance(arrays.get(name), list):
            raise ParseError(f"{where} has no '{name}' list.")
    count = len(arrays["accessionNumber"])
    columns = {}
    for name in (*required, "acceptanceDateTime", "fileNumber", "primaryDocDescription"):
        values = arrays.get(name)
        if values is None and name not in required:
            values = [""] * count
        if not isinstance(values, list) or len(values) != count:
            raise ParseError(f"{where}: '{name}' does not list one value per filing.")
        columns[name] = values
    rows = []
    for i in range(count):
        accession = columns["accessionNumber"][i]
        if not isinstance(accession, str) or not ACCESSION_RE.match(accession):
            raise ParseError(f"{where}: {accession!r} is not an accession number.")
        filing_date = _optional_date(columns["filingDate"][i])
        if filing_date is None:
            raise ParseError(f"{where}: filing {accession} has no filing date.")
        rows.append(
            FilingRow(
                accession_number=accession,
                form=str(columns["form"][i] or "").strip(),
                filing_date=filing_date,
                acceptance=str(columns["acceptanceDateTime"][i] or ""),
                file_number=str(columns["fileNumber"][i] or "").strip(),
                description=str(columns["primaryDocDescription"][i] or ""),
            )
        )
    return rows


def _optional_date(value) -> datetime.date | None:
    if value in (None, ""):
        return None
    try:
        return datetime.date.fromisoformat(str(value)[:10])
    except ValueError as error:
        raise ParseError(f"{value!r} is not a date.") from error
