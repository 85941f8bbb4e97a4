"""Hand-made EDGAR documents in the shape the SEC publishes (see EDGAR.md), a few rows each."""

import datetime
import itertools
import json

# The made-up company most tests follow.
CIK = 1766140

_sequence = itertools.count(1)


def row(
    form: str,
    filing_date: str,
    *,
    file_number: str = "",
    accession: str | None = None,
    acceptance: str | None = None,
    items: str = "",
    description: str = "",
) -> dict:
    """One filing; the accession number is made up unless given."""
    return {
        "accessionNumber": accession or f"0009999999-21-{next(_sequence):06d}",
        "filingDate": filing_date,
        "reportDate": "",
        "acceptanceDateTime": acceptance or f"{filing_date}T16:05:00.000Z",
        "act": "33",
        "form": form,
        "fileNumber": file_number,
        "filmNumber": "21000001",
        "items": items,
        "size": 12345,
        "isXBRL": 0,
        "isInlineXBRL": 0,
        "primaryDocument": "d1.htm",
        "primaryDocDescription": description,
    }


def arrays(rows: list[dict]) -> dict:
    """Parallel arrays, newest first, as in ``filings.recent`` and page files."""
    ordered = sorted(rows, key=lambda r: (r["filingDate"], r["acceptanceDateTime"]), reverse=True)
    keys = list(ordered[0]) if ordered else list(row("X", "2020-01-01"))
    return {key: [r[key] for r in ordered] for key in keys}


def submissions(cik: int, rows: list[dict], *, files: list[dict] = (), name="Example Co") -> dict:
    return {
        "cik": f"{cik:010d}",
        "entityType": "operating",
        "sic": "2834",
        "name": name,
        "tickers": ["EXMP"],
        "exchanges": ["Nasdaq"],
        "fiscalYearEnd": "1231",
        "stateOfIncorporation": "DE",
        "formerNames": [],
        "someNewKey": {"ignored": True},
        "filings": {"recent": arrays(rows), "files": list(files)},
    }


def page_entry(cik: int, number: int, rows: list[dict]) -> dict:
    dates = sorted(r["filingDate"] for r in rows)
    return {
        "name": f"CIK{cik:010d}-submissions-{number:03d}.json",
        "filingCount": len(rows),
        "filingFrom": dates[0],
        "filingTo": dates[-1],
    }


def ipo_rows() -> dict[str, dict]:
    """A complete IPO in 2021, plus filings of the public company's life around it."""
    reg, exch = "333-255000", "001-40500"
    return {
        "drs": row("DRS", "2021-01-11", file_number="377-04000", description="Draft"),
        "drsltr": row("DRSLTR", "2021-02-01"),
        "upload1": row("UPLOAD", "2021-02-08"),
        "drsa": row("DRS/A", "2021-03-01", file_number="377-04000"),
        "s1": row("S-1", "2021-05-03", file_number=reg, description="Registration statement"),
        "upload2": row("UPLOAD", "2021-05-20"),
        "corresp": row("CORRESP", "2021-05-25"),
        "s1a": row("S-1/A", "2021-06-10", file_number=reg),
        "8a": row("8-A12B", "2021-06-14", file_number=exch),
        "cert": row("CERTNAS", "2021-06-15", file_number=exch),
        "effect": row(
            "EFFECT",
            "2021-06-16",
            file_number=reg,
            acceptance="2021-06-17T00:15:05.000Z",
            items="S-1,,2021-06-16 16:00:00",
        ),
        "mef": row("S-1MEF", "2021-06-16", file_number="333-256100"),
        "upload_late": row("UPLOAD", "2021-06-17"),
        "424b4": row("424B4", "2021-06-18", file_number=reg),
        "s8": row("S-8", "2021-07-01", file_number="333-257000"),
        "10q": row("10-Q", "2021-08-10", file_number=exch),
        "upload_10k": row("UPLOAD", "2022-03-01"),
        "corresp_10k": row("CORRESP", "2022-03-15"),
    }


def index_url(base: str, cik: int, accession: str) -> str:
    return f"{base}/Archives/edgar/data/{cik}/{accession.replace('-', '')}/{accession}-index.htm"


def feed(entries: list[tuple[str, str, int, str]]) -> bytes:
    """An Atom page of the current-filings feed from (accession, form, cik, company)."""
    now = datetime.datetime(2026, 11, 29, 12, 0).isoformat()
    items = "".join(
        f"""<entry>
<title>{form} - {company} ({cik:010d}) (Filer)</title>
<link rel="alternate" type="text/html" href="{index_url("https://www.sec.gov", cik, accession)}"/>
<summary type="html">Filed: 2026-11-29</summary>
<updated>{now}-05:00</updated>
<category scheme="https://www.sec.gov/" label="form type" term="{form}"/>
<id>urn:tag:sec.gov,2008:accession-number={accession}</id>
</entry>
"""
        for accession, form, cik, company in entries
    )
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom">\n'
        "<title>Latest Filings - Sun, 29 Nov 2026 12:00:00 EST</title>\n"
        f"<updated>{now}-05:00</updated>\n{items}</feed>\n"
    ).encode("latin-1")


def dumps(document) -> bytes:
    return json.dumps(document).encode()


def parse_tolerance_document() -> bytes:
    """An older-style document: unpadded integer CIK, optional columns and files missing,
    unknown keys present."""
    return dumps(
        {
            "cik": 1766140,
            "name": "Example Therapeutics",
            "newTopLevelThing": [1, 2],
            "filings": {
                "recent": {
                    "accessionNumber": ["0001213900-21-028391"],
                    "filingDate": ["2021-05-03"],
                    "form": ["S-1"],
                    "core_type": ["S-1"],
                }
            },
        }
    )
