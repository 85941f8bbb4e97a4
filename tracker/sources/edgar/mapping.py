"""How EDGAR's filings map to an IPO: pure functions over parsed rows, no database.

A company may try to go public more than once (a withdrawn attempt refiled years later, or a
second IPO after years as a private company), so its IPO-family filings are split into
attempts. An attempt starts with a draft (DRS) or a public registration (S-1/F-1); its first
S-1/F-1's ``333-`` file number identifies its registration, and EFFECT, 424B4/B1 and RW
count only when they carry it. An attempt ends:
- when it is priced (a later RW of the same number does not undo a finished IPO);
- else when it is withdrawn (RW);
- else, once effective, ``EFFECTIVE_MARGIN`` after effectiveness (an effective registration
  that is never priced, e.g. a direct listing, does not stay open for ever).
A DRS or S-1/F-1 after a withdrawn attempt's end, a DRS after the public filing, or an
S-1/F-1 with another ``333-`` number begins a new attempt. Once an attempt made the company
public (priced, or effective and not withdrawn), a new draft or registration is a follow-on
or resale offering, not an IPO, until the company deregisters (a Form 15: it went private);
only then can a second IPO begin. Filings outside attempts (later comment letters, follow-on
offerings, exchange transfers) belong to the public company's life, not to an IPO.
"""

import datetime
from dataclasses import dataclass, field

from tracker.models.milestones import IpoStepType

from .parse import FilingRow

DRAFT_FORMS = {"DRS"}
REGISTRATION_FORMS = {"S-1", "F-1"}
PRICING_FORMS = {"424B4", "424B1"}
# CERT and the exchanges' variants (CERTNYS, CERTNAS, older CERTARCA, CERTAMEX, CERTBATS).
_CERT_PREFIX = "CERT"
IPO_FAMILY = {
    "DRS", "DRS/A", "DRSLTR", "S-1", "S-1/A", "F-1", "F-1/A", "CORRESP", "UPLOAD", "EFFECT",
    "424B4", "424B1", "8-A12B", "S-1MEF", "F-1MEF", "RW",
}  # fmt: skip
# An effective registration not priced within this long is over: what comes later (an
# exchange transfer's CERT, a follow-on's 424B4) is not part of the IPO.
EFFECTIVE_MARGIN = datetime.timedelta(days=30)
# Steps that follow one another on the timeline: each depends on the one before it.
STEP_CHAIN = (
    IpoStepType.CONFIDENTIAL_DRAFT,
    IpoStepType.PUBLIC_FILING,
    IpoStepType.EFFECTIVE,
    IpoStepType.PRICED,
)


# Form 15 and its variants (15-12B, 15-12G, 15-15D, 15F-12B...): the company deregisters.
_DEREGISTRATION_PREFIXES = ("15-", "15F-")


def is_ipo_family(form: str) -> bool:
    return form in IPO_FAMILY or form.startswith(_CERT_PREFIX)


def is_deregistration(form: str) -> bool:
    return form.startswith(_DEREGISTRATION_PREFIXES)


def tells_about_ipos(form: str) -> bool:
    """The forms the rules read: the IPO family, and deregistrations (between two IPOs)."""
    return is_ipo_family(form) or is_deregistration(form)


@dataclass(frozen=True)
class StepFact:
    """An IPO step EDGAR shows happened: its type and the filing that proves it."""

    step: str
    filing: FilingRow


@dataclass
class IpoHistory:
    """What EDGAR's rows say about one IPO attempt."""

    registration: str = ""  # the attempt's 333- file number, once publicly filed
    filings: list[FilingRow] = field(default_factory=list)  # oldest first
    steps: list[StepFact] = field(default_factory=list)  # oldest first
    withdrawal: FilingRow | None = None
    priced: FilingRow | None = None
    effective: FilingRow | None = None
    deregistered: bool = False  # a Form 15 after it: the company went private again

    @property
    def start(self) -> datetime.date | None:
        return self.filings[0].filing_date if self.filings else None

    @property
    def end(self) -> datetime.date | None:
        """The last day that belongs to this attempt; None while it is open-ended."""
        if self.priced is not None:
            return self.priced.filing_date
        if self.withdrawal is not None:
            return self.withdrawal.filing_date
        if self.effective is not None:
            return self.effective.filing_date + EFFECTIVE_MARGIN
        return None

    def add(self, row: FilingRow) -> None:
        """Take the next row (oldest first) that falls within this attempt."""
        self.filings.append(row)
        public = row.form in REGISTRATION_FORMS and row.file_number.startswith("333-")
        if public and not self.registration:
            self.registration = row.file_number
        if not self.registration or row.file_number != self.registration:
            return
        if row.form == "EFFECT" and self.effective is None:
            self.effective = row
        elif row.form in PRICING_FORMS and self.priced is None:
            self.priced = row
        elif row.form == "RW" and self.withdrawal is None and self.priced is None:
            self.withdrawal = row

    @property
    def went_public(self) -> bool:
        return self.priced is not None or (self.effective is not None and self.withdrawal is None)

    def over(self, row: FilingRow) -> bool:
        end = self.end
        return (
            self.priced is not None
            or self.withdrawal is not None
            or (end is not None and row.filing_date > end)
        )

    def begins_anew(self, row: FilingRow) -> bool:
        """True when ``row`` starts a new attempt rather than continuing this one."""
        if row.form not in DRAFT_FORMS | REGISTRATION_FORMS:
            return False
        if self.over(row):
            # A public company's new registration is a follow-on, unless it went private.
            return not self.went_public or self.deregistered
        if row.form in DRAFT_FORMS:
            return bool(self.registration)  # a new draft after the public filing
        return (
            bool(self.registration)
            and row.file_number.startswith("333-")
            and row.file_number != self.registration
        )

    def within(self, row: FilingRow) -> bool:
        end = self.end
        return end is None or row.filing_date <= end


def ipo_attempts(rows: list[FilingRow]) -> list[IpoHistory]:
    """The company's IPO attempts, oldest first (any order of rows, duplicates allowed),
    each with its steps."""
    unique = {row.accession_number: row for row in rows if tells_about_ipos(row.form)}
    attempts: list[IpoHistory] = []
    for row in sorted(unique.values(), key=lambda row: row.order_key):
        current = attempts[-1] if attempts else None
        if is_deregistration(row.form):
            if current is not None and current.over(row):
                current.deregistered = True
            continue
        if current is None or current.begins_anew(row):
            if row.form in DRAFT_FORMS | REGISTRATION_FORMS:
                attempts.append(IpoHistory())
                attempts[-1].add(row)
            continue  # a letter or offering outside any attempt
        if current.within(row):
            current.add(row)
    for attempt in attempts:
        attempt.steps = _steps(attempt)
    return attempts


def _steps(attempt: IpoHistory) -> list[StepFact]:
    filings = attempt.filings
    effective = attempt.effective
    # Listing and certification come days before effectiveness (an 8-A12B up to a month):
    # one long after it is an exchange transfer, not the IPO's listing.
    latest_listing = effective.filing_date + EFFECTIVE_MARGIN if effective else None

    def listing_row(row: FilingRow) -> bool:
        return latest_listing is None or row.filing_date <= latest_listing

    draft = _first(filings, lambda row: row.form in DRAFT_FORMS)
    public = _first(filings, lambda row: row.form in REGISTRATION_FORMS)
    listing = _first(filings, lambda row: row.form == "8-A12B" and listing_row(row))
    certified = _first(filings, lambda row: row.form.startswith(_CERT_PREFIX) and listing_row(row))
    comment_rounds = [
        row
        for row in filings
        if row.form == "UPLOAD" and (effective is None or row.filing_date <= effective.filing_date)
    ]
    facts = [
        (IpoStepType.CONFIDENTIAL_DRAFT, draft),
        (IpoStepType.PUBLIC_FILING, public),
        (IpoStepType.EFFECTIVE, effective),
        (IpoStepType.PRICED, attempt.priced),
        (IpoStepType.LISTING_REGISTERED, listing),
        (IpoStepType.EXCHANGE_CERTIFIED, certified),
        *((IpoStepType.SEC_COMMENTS, row) for row in comment_rounds),
    ]
    return sorted(
        (StepFact(step=step, filing=row) for step, row in facts if row is not None),
        key=lambda fact: fact.filing.order_key,
    )


def may_hold_ipo_start(rows: list[FilingRow]) -> bool:
    """False once ``rows`` hold a draft (DRS): the latest attempt starts there or later, so
    nothing older can belong to it.

    Without a draft, an older page may still hold the latest attempt's beginning (or all of
    it: an IPO is often years back), so the importer reads the page files it has not read.
    """
    return not any(row.form in DRAFT_FORMS for row in rows)


def _first(rows, predicate) -> FilingRow | None:
    return next((row for row in rows if predicate(row)), None)
