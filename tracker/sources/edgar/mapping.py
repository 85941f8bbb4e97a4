"""How EDGAR's filings map to an IPO: pure functions over parsed rows, no database.

The IPO starts with the company's first draft (DRS) or public registration (S-1/F-1); the
first S-1/F-1's ``333-`` file number identifies the IPO registration, and EFFECT, 424B4/B1
and RW count only when they carry it. The IPO's filings are those of the IPO family filed
from its start until it is priced or withdrawn: later comment letters, offerings and
exchange certifications belong to the public company's life, not to its IPO.
"""

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
# Steps that follow one another on the timeline: each depends on the one before it.
STEP_CHAIN = (
    IpoStepType.CONFIDENTIAL_DRAFT,
    IpoStepType.PUBLIC_FILING,
    IpoStepType.EFFECTIVE,
    IpoStepType.PRICED,
)


def is_ipo_family(form: str) -> bool:
    return form in IPO_FAMILY or form.startswith(_CERT_PREFIX)


@dataclass(frozen=True)
class StepFact:
    """An IPO step EDGAR shows happened: its type and the filing that proves it."""

    step: str
    filing: FilingRow


@dataclass
class IpoHistory:
    """What EDGAR's rows say about the company's IPO."""

    registration: str = ""  # the IPO's 333- file number, once publicly filed
    filings: list[FilingRow] = field(default_factory=list)  # oldest first
    steps: list[StepFact] = field(default_factory=list)  # oldest first
    withdrawal: FilingRow | None = None

    @property
    def started(self) -> bool:
        return bool(self.filings)


def ipo_history(rows: list[FilingRow]) -> IpoHistory:
    """Apply the IPO rules to a company's filings (any order, duplicates allowed)."""
    unique = {row.accession_number: row for row in rows if is_ipo_family(row.form)}
    ordered = sorted(unique.values(), key=lambda row: row.order_key)
    start = next((row for row in ordered if row.form in DRAFT_FORMS | REGISTRATION_FORMS), None)
    if start is None:
        return IpoHistory()
    ordered = [row for row in ordered if row.order_key >= start.order_key]
    history = IpoHistory()
    public = _first(ordered, lambda row: row.form in REGISTRATION_FORMS)
    if public is not None and public.file_number.startswith("333-"):
        history.registration = public.file_number

    def of_registration(forms):
        return lambda row: (
            row.form in forms
            and bool(history.registration)
            and row.file_number == history.registration
        )

    draft = _first(ordered, lambda row: row.form in DRAFT_FORMS)
    effective = _first(ordered, of_registration({"EFFECT"}))
    priced = _first(ordered, of_registration(PRICING_FORMS))
    history.withdrawal = _first(ordered, of_registration({"RW"}))
    # The IPO ends when it is priced or withdrawn (and not before it became effective:
    # staff letters dated up to effectiveness still belong to it).
    ends = [row.filing_date for row in (priced, history.withdrawal, effective) if row]
    end = max(ends) if (priced or history.withdrawal) else None
    history.filings = [row for row in ordered if end is None or row.filing_date <= end]

    listing = _first(history.filings, lambda row: row.form == "8-A12B")
    certified = _first(history.filings, lambda row: row.form.startswith(_CERT_PREFIX))
    comment_rounds = [
        row
        for row in history.filings
        if row.form == "UPLOAD" and (effective is None or row.filing_date <= effective.filing_date)
    ]
    facts = [
        (IpoStepType.CONFIDENTIAL_DRAFT, draft),
        (IpoStepType.PUBLIC_FILING, public),
        (IpoStepType.EFFECTIVE, effective),
        (IpoStepType.PRICED, priced),
        (IpoStepType.LISTING_REGISTERED, listing),
        (IpoStepType.EXCHANGE_CERTIFIED, certified),
        *((IpoStepType.SEC_COMMENTS, row) for row in comment_rounds),
    ]
    history.steps = sorted(
        (StepFact(step=step, filing=row) for step, row in facts if row is not None),
        key=lambda fact: fact.filing.order_key,
    )
    return history


def may_hold_ipo_start(rows: list[FilingRow]) -> bool:
    """False once ``rows`` hold the IPO's first draft: nothing older can belong to it.

    Without a draft, an older page may still hold the IPO's beginning (or all of it: an IPO
    is often years back), so the importer reads the page files it has not read yet.
    """
    return not any(row.form in DRAFT_FORMS for row in rows)


def _first(rows, predicate) -> FilingRow | None:
    return next((row for row in rows if predicate(row)), None)
