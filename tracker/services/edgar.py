"""Writes of the EDGAR importer: one organization's IPO history applied in one transaction,
through the milestone and process services (so every change records its events, with the
system actor ``importer:sec``), and the importer's own bookkeeping.

What it does with each fact EDGAR shows (see tracker.sources.edgar.mapping for the rules):
- an IPO filing not yet in the record becomes a completed ``Filing`` citing its index page;
- an IPO step completes the editor's open step of that type (target date kept, so the slip
  shows) or, when there is none, is created completed; chained steps depend on the one before;
- where an editor's step already says something else (another actual date, cancelled), the
  editor's fact is kept and EDGAR's is added to the step's notes once (``milestone.updated``);
- a withdrawal (RW) of the IPO registration abandons the process.
Only the company's latest IPO attempt is imported (tracker.sources.edgar.mapping splits its
filings into attempts): into the process already holding its filings, else the active IPO
process, else a new one. An earlier attempt, and a finished attempt that ended before the
active IPO process was opened (the editors are planning a new IPO), are never imported into
it: the summary says so, and nothing is written for them.
Nothing is written when nothing is new, so a second sync of the same data records no event.
"""

import datetime
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from tracker.models import (
    EdgarFeedState,
    EdgarSync,
    EdgarSyncStatus,
    Filing,
    IpoStep,
    Milestone,
    MilestoneKind,
    MilestoneStatus,
    Organization,
    Process,
    ProcessKind,
    ProcessStatus,
)
from tracker.models.milestones import Agency, IpoStepType, actual_dates_up_to
from tracker.sources.edgar.mapping import STEP_CHAIN, IpoHistory, StepFact, ipo_attempts
from tracker.sources.edgar.parse import FilingRow

from .milestones import milestone_create, milestone_update, would_create_cycle
from .processes import process_create, process_update
from .schedule import schedule_lock

ACTOR = "importer:sec"
# EDGAR dates a filing accepted after 17:30 New York time with the next business day: from a
# Friday evening, up to three days past today in UTC. Such a date is EDGAR's fact, not a
# typing mistake, so the importer's writes accept it (editors' validation is unchanged).
FILING_DATE_LEEWAY_DAYS = 3
# An editor's step in one of these states is a plan the import completes.
_OPEN_STATUSES = {MilestoneStatus.PLANNED, MilestoneStatus.IN_PROGRESS, MilestoneStatus.DELAYED}


@dataclass
class ImportResult:
    """What one sync found and did, for the sync state, the command and the tests."""

    found: int = 0
    imported: list[str] = field(default_factory=list)  # "S-1 0001234567-21-000001"
    advanced: list[str] = field(default_factory=list)  # step titles
    disagreements: list[str] = field(default_factory=list)
    abandoned: bool = False
    skipped: str = ""  # why the latest attempt was not imported, in words

    @property
    def changed(self) -> bool:
        return bool(self.imported or self.advanced or self.disagreements or self.abandoned)

    def summary(self) -> str:
        if not self.found:
            return "No IPO filings found."
        parts = [f"Found {self.found} IPO filing{'s' if self.found != 1 else ''}"]
        if not self.changed:
            parts.append("nothing new")
        if self.imported:
            parts.append(f"imported {len(self.imported)}")
        if self.advanced:
            parts.append("advanced: " + ", ".join(self.advanced))
        if self.disagreements:
            parts.append("kept the editor's date: " + ", ".join(self.disagreements))
        if self.abandoned:
            parts.append("the IPO was withdrawn")
        if self.skipped:
            parts.append(self.skipped)
        return "; ".join(parts) + "."


def filing_index_url(*, archives_url: str, cik: int, accession_number: str) -> str:
    """The filing's index page on EDGAR: the source cited for every fact taken from it."""
    compact = accession_number.replace("-", "")
    return (
        f"{archives_url.rstrip('/')}/Archives/edgar/data/{cik}/{compact}/"
        f"{accession_number}-index.htm"
    )


def edgar_sync_apply(
    *,
    organization: Organization,
    filings: list[FilingRow],
    archives_url: str,
    etag: str = "",
    last_modified: str = "",
    pages_read: list[str] | None = None,
    page_filings: list[FilingRow] | None = None,
) -> ImportResult:
    """Apply the company's filings (recent and from page files) to its IPO process, and
    remember the answer's validators and the page files read, all in one transaction."""
    attempts = ipo_attempts(filings)
    with transaction.atomic(), actual_dates_up_to(FILING_DATE_LEEWAY_DAYS):
        # The import writes milestones: the schedule lock comes before any row it locks.
        schedule_lock()
        state, _ = EdgarSync.objects.select_for_update().get_or_create(organization=organization)
        importer = _Importer(organization, state, archives_url)
        result = importer.run(attempts)
        now = timezone.now()
        values = {
            "cik": organization.cik,
            "status": EdgarSyncStatus.OK,
            "summary": result.summary(),
            "error": "",
            "etag": etag,
            "last_modified": last_modified,
            "checked_at": now,
            "synced_at": now,
        }
        if pages_read is not None:
            values["pages_read"] = pages_read
            values["page_filings"] = [row.as_json() for row in page_filings or []]
        for name, value in values.items():
            setattr(state, name, value)
        state.save()
    return result


def edgar_sync_unchanged(*, organization: Organization) -> None:
    """EDGAR answered 304: note when it was asked, and clear a failure of the last sync
    (one UPDATE of the sync state; the record is not touched and no event is written)."""
    EdgarSync.objects.filter(organization=organization).update(
        checked_at=timezone.now(), status=EdgarSyncStatus.OK, error=""
    )


def edgar_sync_fail(*, organization: Organization, error: str) -> None:
    """Record why this organization's sync failed (nothing else of it was written)."""
    with transaction.atomic():
        state, _ = EdgarSync.objects.select_for_update().get_or_create(organization=organization)
        state.status = EdgarSyncStatus.FAILED
        state.error = error
        state.failed_at = state.checked_at = timezone.now()
        state.save(update_fields=["status", "error", "failed_at", "checked_at"])


def edgar_feed_bookmark(*, last_accession: str) -> None:
    """Remember the newest accession number the feed poller has seen."""
    EdgarFeedState.objects.update_or_create(pk=1, defaults={"last_accession": last_accession})


class _Importer:
    def __init__(self, organization: Organization, state: EdgarSync, archives_url: str):
        self.organization = organization
        self.state = state
        self.cik = int(organization.cik)
        self.archives_url = archives_url
        self.result = ImportResult()
        self.process: Process | None = None
        self.steps: list[IpoStep] = []
        # The step that stands for each chained step type, for the dependencies.
        self.chain: dict[str, IpoStep] = {}
        self.comment_rounds = 0
        self.created: set[int] = set()  # steps created by this sync

    def run(self, attempts: list[IpoHistory]) -> ImportResult:
        if not attempts:
            return self.result
        history = attempts[-1]
        self.result.found = len(history.filings)
        recorded = dict(
            Filing.objects.filter(
                accession_number__in=[row.accession_number for row in history.filings]
            ).values_list("accession_number", "process__organization_id")
        )
        new = [row for row in history.filings if row.accession_number not in recorded]
        earlier = [row.accession_number for attempt in attempts[:-1] for row in attempt.filings]
        self.process = self._find_process(recorded, earlier)
        if self.process is not None and not self._belongs(history, recorded):
            self.result.skipped = (
                f"the latest IPO attempt (filed {history.start.isoformat()}, ended "
                f"{history.end.isoformat()}) ended before the active IPO process "
                f"{self.process.title!r} was opened, so it is not imported into it"
            )
            return self.result
        if self.process is None:
            if not new:
                return self.result  # its filings are recorded under another organization
            self.process = process_create(
                actor=ACTOR,
                data={
                    "organization": self.organization,
                    "kind": ProcessKind.IPO,
                    "title": "IPO",
                    "slug": self._free_slug(),
                },
            )
        self.steps = list(
            IpoStep.objects.filter(process=self.process).order_by("position", "target_date", "id")
        )
        facts_by_filing: dict[str, list[StepFact]] = {}
        for fact in history.steps:
            facts_by_filing.setdefault(fact.filing.accession_number, []).append(fact)
        new_accessions = {row.accession_number for row in new}
        for row in history.filings:
            if row.accession_number in new_accessions:
                self._import_filing(row)
            for fact in facts_by_filing.get(row.accession_number, []):
                self._apply_step(fact)
        self._link_later_steps()
        withdrawal = history.withdrawal
        if (
            withdrawal is not None
            and withdrawal.accession_number in new_accessions
            and self.process.status == ProcessStatus.ACTIVE
        ):
            self.process = process_update(
                actor=ACTOR, process=self.process, data={"status": ProcessStatus.ABANDONED}
            )
            self.result.abandoned = True
        return self.result

    def _find_process(self, recorded: dict, earlier: list[str]) -> Process | None:
        """The process holding this attempt's filings already, else the active IPO process
        that holds none of an earlier attempt's filings."""
        if self.organization.pk in recorded.values():
            process = (
                Process.objects.filter(
                    organization=self.organization,
                    milestones__filing__accession_number__in=list(recorded),
                )
                .order_by("id")
                .first()
            )
            if process is not None:
                return process
        return (
            Process.objects.filter(
                organization=self.organization, kind=ProcessKind.IPO, status=ProcessStatus.ACTIVE
            )
            .exclude(milestones__filing__accession_number__in=earlier)
            .order_by("id")
            .first()
        )

    def _belongs(self, history: IpoHistory, recorded: dict) -> bool:
        """False when ``history`` is an attempt that was over before this (active) process
        was opened and none of its filings is in it: the editors are planning another IPO,
        whose steps must not be completed with an old IPO's facts. The process counts as
        opened at its earliest date: when it was created, or its earliest target or actual
        date (a process entered after the fact still takes the IPO it describes)."""
        if self.organization.pk in recorded.values() or self.process.status != ProcessStatus.ACTIVE:
            return True
        end = history.end
        if end is None:
            return True
        dates = Milestone.objects.filter(process=self.process).aggregate(
            target=Min("target_date"), actual=Min("actual_date")
        )
        opened = min([timezone.localdate(self.process.created_at), *filter(None, dates.values())])
        return end >= opened

    def _free_slug(self) -> str:
        taken = set(
            Process.objects.filter(organization=self.organization).values_list("slug", flat=True)
        )
        slug, n = "ipo", 1
        while slug in taken:
            n += 1
            slug = f"ipo-{n}"
        return slug

    def _url(self, row: FilingRow) -> str:
        return filing_index_url(
            archives_url=self.archives_url, cik=self.cik, accession_number=row.accession_number
        )

    def _import_filing(self, row: FilingRow) -> None:
        title = f"{row.form}: {row.description}" if row.description else row.form
        url = self._url(row)
        milestone_create(
            actor=ACTOR,
            kind=MilestoneKind.FILING,
            data={
                "process": self.process,
                "title": title[:200],
                "status": MilestoneStatus.COMPLETED,
                "actual_date": row.filing_date,
                "source_url": url,
                "agency": Agency.SEC,
                "form_type": row.form,
                "accession_number": row.accession_number,
                "filed_on": row.filing_date,
                "document_url": url,
            },
        )
        self.result.imported.append(f"{row.form} {row.accession_number}")

    def _apply_step(self, fact: StepFact) -> None:
        url = self._url(fact.filing)
        date = fact.filing.filing_date
        if fact.step == IpoStepType.SEC_COMMENTS:
            self.comment_rounds += 1
        same_type = [step for step in self.steps if step.step == fact.step]
        cited = next((step for step in same_type if self._stands_for(step, fact, url)), None)
        if cited is not None:
            self._chain(fact, cited)
            if cited.actual_date != date:
                self._report(cited, fact, url)
            return
        open_steps = [step for step in same_type if step.status in _OPEN_STATUSES]
        if open_steps:
            self._complete(open_steps[0], fact, url)
            return
        if fact.step == IpoStepType.SEC_COMMENTS:
            # Rounds repeat: one an editor recorded on the same day is this one; any other
            # recorded round is another letter.
            same_day = [s for s in same_type if s.actual_date == date and not self._cites_edgar(s)]
            if same_day:
                if not same_day[0].source_url:  # a source the editor cited stays
                    self._cite(same_day[0], url)
            else:
                self._create(fact, url)
            return
        if same_type:
            step = same_type[0]
            self._chain(fact, step)
            if step.status == MilestoneStatus.COMPLETED and step.actual_date == date:
                if not step.source_url:
                    self._cite(step, url)
            else:
                self._report(step, fact, url)
            return
        self._create(fact, url)

    def _stands_for(self, step: IpoStep, fact: StepFact, url: str) -> bool:
        """True when ``step`` is the one this filing was applied to before: it cites the
        filing, or it kept the editor's fact and the difference was reported."""
        key = f"{step.pk}:{fact.filing.accession_number}"
        return step.source_url == url or key in self.state.disagreements_reported

    def _cites_edgar(self, step: IpoStep) -> bool:
        return step.source_url.startswith(f"{self.archives_url.rstrip('/')}/Archives/edgar/")

    def _previous_in_chain(self, step_type: str) -> IpoStep | None:
        if step_type not in STEP_CHAIN:
            return None
        earlier = STEP_CHAIN[: STEP_CHAIN.index(step_type)]
        return next((self.chain[t] for t in reversed(earlier) if t in self.chain), None)

    def _chain(self, fact: StepFact, step: IpoStep) -> None:
        if fact.step in STEP_CHAIN:
            self.chain.setdefault(fact.step, step)

    def _title(self, fact: StepFact) -> str:
        label = IpoStepType(fact.step).label
        return f"{label} {self.comment_rounds}" if fact.step == IpoStepType.SEC_COMMENTS else label

    def _create(self, fact: StepFact, url: str) -> None:
        previous = self._previous_in_chain(fact.step)
        step = milestone_create(
            actor=ACTOR,
            kind=MilestoneKind.IPO_STEP,
            data={
                "process": self.process,
                "title": self._title(fact),
                "step": fact.step,
                "status": MilestoneStatus.COMPLETED,
                "actual_date": fact.filing.filing_date,
                "source_url": url,
            },
            depends_on=[previous] if previous else [],
        )
        self.steps.append(step)
        self._chain(fact, step)
        self.created.add(step.pk)
        self.result.advanced.append(step.title)

    def _link_later_steps(self) -> None:
        """A step created now that comes before a step already in the record (a DRS, which
        EDGAR lists only after the public filing, dated at its submission) gets the next
        chained step's dependency, as if they had arrived in order. Only steps that cite EDGAR
        are relinked: an editor's completed step keeps the links the editor gave it."""
        present = [self.chain[t] for t in STEP_CHAIN if t in self.chain]
        for earlier, later in zip(present, present[1:], strict=False):
            if earlier.pk not in self.created or later.pk in self.created:
                continue
            if not self._cites_edgar(later):
                continue
            depends_on = _with_link(later, earlier)
            if depends_on is None:
                continue
            updated = milestone_update(
                actor=ACTOR,
                milestone=later,
                data={},
                depends_on=depends_on,
                expected_version=later.version,
            )
            self._replace(later, updated)

    def _complete(self, step: IpoStep, fact: StepFact, url: str) -> None:
        """Complete an editor's planned step: its target date stays, so the slip shows.

        Its other dependencies and their gaps stay as the editor set them (only the missing
        link to the previous IPO step is added), an actual date the editor already entered
        is kept (a different one from EDGAR is reported), and so is a source they cited."""
        previous = self._previous_in_chain(fact.step)
        depends_on = None if previous is None else _with_link(step, previous)
        data = {"status": MilestoneStatus.COMPLETED}
        if step.actual_date is None:
            data["actual_date"] = fact.filing.filing_date
        if not step.source_url:
            data["source_url"] = url
        updated = milestone_update(
            actor=ACTOR,
            milestone=step,
            data=data,
            depends_on=depends_on,
            expected_version=step.version,
        )
        self._replace(step, updated)
        self._chain(fact, updated)
        self.result.advanced.append(updated.title)
        if updated.actual_date != fact.filing.filing_date:
            self._report(updated, fact, url)

    def _cite(self, step: IpoStep, url: str) -> None:
        """An editor recorded the step on EDGAR's date without a source: cite the filing."""
        updated = milestone_update(
            actor=ACTOR, milestone=step, data={"source_url": url}, expected_version=step.version
        )
        self._replace(step, updated)

    def _report(self, step: IpoStep, fact: StepFact, url: str) -> None:
        """Keep the editor's fact; tell the editors, once, what EDGAR shows instead."""
        key = f"{step.pk}:{fact.filing.accession_number}"
        if key in self.state.disagreements_reported:
            return
        note = (
            f"EDGAR shows this step on {fact.filing.filing_date.isoformat()} "
            f"({fact.filing.form}, {url}); the "
            + (f"date entered here ({_date(step.actual_date)})" if step.actual_date else "status")
            + " is kept."
        )
        notes = f"{step.notes}\n\n{note}" if step.notes else note
        updated = milestone_update(
            actor=ACTOR, milestone=step, data={"notes": notes}, expected_version=step.version
        )
        self._replace(step, updated)
        self.state.disagreements_reported = [*self.state.disagreements_reported, key]
        self.result.disagreements.append(updated.title)

    def _replace(self, old: IpoStep, new: IpoStep) -> None:
        self.steps[self.steps.index(old)] = new
        for step_type, step in self.chain.items():
            if step is old:
                self.chain[step_type] = new


def _date(value: datetime.date | None) -> str:
    return value.isoformat() if value else "none"


def _with_link(milestone: Milestone, previous: Milestone) -> list[Milestone] | None:
    """``milestone``'s dependencies plus ``previous``; None when it already depends on it or
    the link would make a cycle. Milestones passed without a gap keep each existing link's
    gap (``milestone_update``)."""
    current = list(milestone.depends_on.all())
    if any(m.pk == previous.pk for m in current) or would_create_cycle(milestone, [previous.pk]):
        return None
    return [*current, previous]
