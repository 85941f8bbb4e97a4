"""The demo record: a research lab controlled by a nonprofit converts into a public benefit
corporation, two attorneys general review it, its largest partner renegotiates, and the lab
weighs an IPO. A made-up robotics company that follows EDGAR shows an IPO imported by the
EDGAR importer from a hand-made submissions document (``tracker/sources/edgar/
demo_submissions.json``), through the same code path as ``manage.py edgar_sync --file``.

Facts up to late October 2025 come from public announcements (source URLs on each
milestone). Every IPO date is illustrative: no IPO had been announced. Loading goes through the
services with the system actor "demo", so it writes events like any other change, and it is
idempotent: rows are found by slug or title and only what differs is updated.

Dependencies carry the minimum gaps such processes run on: 20 days' notice to the California
attorney general before a nonprofit's assets are transferred, the SEC's first comments about
27 days after a confidential draft, a public S-1 at least 15 days before the roadshow, a
180-day lock-up. The public S-1 has slipped (loaded as planned, then moved, so its events
tell the story), which leaves the roadshow and the steps after it at risk.
"""

import datetime
from decimal import Decimal
from pathlib import Path

from django.db import transaction

from tracker.models import Milestone, MilestoneKind, Organization, Process
from tracker.models.milestones import AgAuthority, Agency, AgStage, IpoStepType
from tracker.services.milestones import Dependency, milestone_create, milestone_update
from tracker.services.organizations import organization_create, organization_update
from tracker.services.processes import process_create, process_update
from tracker.services.schedule import schedule_lock
from tracker.sources.edgar.sync import organization_sync

ACTOR = "demo"
D = datetime.date

OPENAI_RECAP = "https://openai.com/index/built-to-benefit-everyone/"
OPENAI_STRUCTURE = "https://openai.com/index/evolving-our-structure/"
MICROSOFT_PARTNERSHIP = "https://blogs.microsoft.com/blog/2025/10/28/the-next-chapter-of-the-microsoft-openai-partnership/"
ILLUSTRATIVE = "Illustrative date for the demo: no such step had been announced."
CA_NOTICE_RULE = (
    "Illustrative date. California's Corporations Code (section 5913) requires 20 days' "
    "written notice to the Attorney General before a nonprofit public benefit corporation "
    "transfers all or substantially all of its assets."
)

ORGANIZATIONS = [
    {
        "slug": "openai",
        "name": "OpenAI",
        "state_of_incorporation": "Delaware",
        "website": "https://openai.com",
    },
    {
        "slug": "microsoft",
        "name": "Microsoft Corporation",
        "cik": "789019",
        "ticker": "MSFT",
        "state_of_incorporation": "Washington",
        "website": "https://www.microsoft.com",
    },
    {
        # Made up, CIK included: its IPO is imported from EDGAR_DEMO_SUBMISSIONS below.
        "slug": "northwind-robotics",
        "name": "Northwind Robotics, Inc. (illustrative)",
        "cik": "9990001",
        "ticker": "NWRB",
        "state_of_incorporation": "Delaware",
        "follow_edgar": True,
    },
]
EDGAR_DEMO_ORGANIZATION = "northwind-robotics"
EDGAR_DEMO_SUBMISSIONS = Path(__file__).parent / "sources" / "edgar" / "demo_submissions.json"

PROCESSES = [
    {
        "organization": "openai",
        "slug": "recapitalization",
        "kind": "restructuring",
        "title": "Recapitalization into a public benefit corporation",
        "status": "completed",
        "summary": (
            "The nonprofit that controls the lab keeps control of the for-profit, which becomes "
            "a public benefit corporation. The Delaware and California attorneys general "
            "reviewed the conversion and let it proceed with conditions in late October 2025."
        ),
        "milestones": [
            {
                "kind": MilestoneKind.GENERIC,
                "title": "Nonprofit control of the PBC announced",
                "status": "completed",
                "target_date": D(2025, 5, 5),
                "actual_date": D(2025, 5, 5),
                "source_url": OPENAI_STRUCTURE,
                "notes": "The lab said the nonprofit would stay in control of a PBC.",
            },
            {
                "kind": MilestoneKind.AG_REVIEW,
                "title": "Delaware Attorney General review",
                "status": "completed",
                "authority": AgAuthority.DELAWARE,
                "stage": AgStage.NO_OBJECTION,
                "target_date": D(2025, 10, 31),
                "actual_date": D(2025, 10, 28),
                "decided_on": D(2025, 10, 28),
                "conditions": (
                    "Statement of no objection, with conditions that keep the nonprofit's "
                    "control and its mission ahead of profit on safety and security."
                ),
                "source_url": OPENAI_RECAP,
            },
            {
                "kind": MilestoneKind.AG_REVIEW,
                "title": "California Attorney General review",
                "status": "completed",
                "authority": AgAuthority.CALIFORNIA,
                "stage": AgStage.NO_OBJECTION,
                "target_date": D(2025, 10, 31),
                "actual_date": D(2025, 10, 28),
                "decided_on": D(2025, 10, 28),
                "conditions": (
                    "Memorandum of understanding: the nonprofit's mission and safety "
                    "commitments bind the PBC, and the company stays in California."
                ),
                "source_url": OPENAI_RECAP,
            },
            {
                "kind": MilestoneKind.GENERIC,
                "title": "Notice of the conversion given to the California Attorney General",
                "status": "completed",
                "target_date": D(2025, 9, 30),
                "actual_date": D(2025, 9, 30),
                "notes": CA_NOTICE_RULE,
            },
            {
                "kind": MilestoneKind.FILING,
                "title": "Certificate of conversion filed in Delaware",
                "status": "completed",
                "agency": Agency.SECRETARY_OF_STATE,
                "form_type": "Certificate of conversion",
                "target_date": D(2025, 10, 28),
                "actual_date": D(2025, 10, 28),
                "filed_on": D(2025, 10, 28),
                "notes": ILLUSTRATIVE,
                "depends_on": [
                    "Delaware Attorney General review",
                    "California Attorney General review",
                    ("Notice of the conversion given to the California Attorney General", 20),
                ],
            },
            {
                "kind": MilestoneKind.GENERIC,
                "title": "Recapitalization completed",
                "status": "completed",
                "target_date": D(2025, 10, 28),
                "actual_date": D(2025, 10, 28),
                "source_url": OPENAI_RECAP,
                "notes": "The nonprofit, renamed the OpenAI Foundation, holds equity in the PBC.",
                "depends_on": ["Certificate of conversion filed in Delaware"],
            },
        ],
    },
    {
        "organization": "openai",
        "slug": "microsoft-partnership",
        "kind": "partnership",
        "title": "Partnership agreement with Microsoft",
        "status": "active",
        "summary": (
            "The lab's largest partner renegotiated its access to the lab's models and its "
            "stake as part of the recapitalization."
        ),
        "milestones": [
            {
                "kind": MilestoneKind.GENERIC,
                "title": "New definitive agreement signed",
                "status": "completed",
                "target_date": D(2025, 10, 28),
                "actual_date": D(2025, 10, 28),
                "source_url": MICROSOFT_PARTNERSHIP,
                "notes": "Sets the partner's stake, model access and IP rights.",
            },
            {
                "kind": MilestoneKind.GENERIC,
                "title": "AGI declaration verified by an expert panel",
                "status": "planned",
                "source_url": MICROSOFT_PARTNERSHIP,
                "notes": "No date is set; a declaration would be verified by independent experts.",
                "depends_on": ["New definitive agreement signed"],
            },
        ],
    },
    {
        "organization": "openai",
        "slug": "ipo",
        "kind": "ipo",
        "title": "Initial public offering (illustrative)",
        "status": "active",
        "summary": (
            "Every step and date here is illustrative: the demo shows how an IPO would be "
            "tracked, from the confidential draft to the end of the lock-up."
        ),
        "milestones": [
            {
                "kind": MilestoneKind.IPO_STEP,
                "title": "Underwriters selected",
                "step": IpoStepType.UNDERWRITERS_SELECTED,
                "status": "delayed",
                "target_date": D(2026, 10, 15),
                "notes": ILLUSTRATIVE,
            },
            {
                "kind": MilestoneKind.FILING,
                "title": "Confidential draft registration (DRS) submitted",
                "agency": Agency.SEC,
                "form_type": "DRS",
                "status": "planned",
                "target_date": D(2026, 12, 1),
                "notes": ILLUSTRATIVE,
                "depends_on": [("Underwriters selected", 30)],
            },
            {
                "kind": MilestoneKind.IPO_STEP,
                "title": "First SEC comment round",
                "step": IpoStepType.SEC_COMMENTS,
                "status": "planned",
                "target_date": D(2027, 1, 5),
                "notes": ILLUSTRATIVE,
                # The SEC's staff aims to comment within about 27 days of a submission.
                "depends_on": [("Confidential draft registration (DRS) submitted", 27)],
            },
            {
                "kind": MilestoneKind.FILING,
                "title": "Public S-1 filed",
                "agency": Agency.SEC,
                "form_type": "S-1",
                # Planned for 15 February, moved when the comment round ran long.
                "slipped_from": D(2027, 2, 15),
                "status": "delayed",
                "target_date": D(2027, 3, 1),
                "notes": ILLUSTRATIVE + " Slipped from 15 February: a second comment round.",
                "depends_on": [("First SEC comment round", 14)],
            },
            {
                "kind": MilestoneKind.IPO_STEP,
                "title": "Roadshow launched",
                "step": IpoStepType.ROADSHOW,
                "status": "planned",
                "target_date": D(2027, 3, 8),
                "price_range_low": Decimal("40.00"),
                "price_range_high": Decimal("44.00"),
                "notes": ILLUSTRATIVE,
                # Emerging growth companies file publicly at least 15 days before the roadshow.
                "depends_on": [("Public S-1 filed", 15)],
            },
            {
                "kind": MilestoneKind.FILING,
                "title": "Registration declared effective",
                "agency": Agency.SEC,
                "form_type": "EFFECT",
                "status": "planned",
                "target_date": D(2027, 3, 17),
                "notes": ILLUSTRATIVE,
                "depends_on": [("Roadshow launched", 8)],
            },
            {
                "kind": MilestoneKind.IPO_STEP,
                "title": "IPO priced",
                "step": IpoStepType.PRICED,
                "status": "planned",
                "target_date": D(2027, 3, 17),
                "exchange": "Nasdaq",
                "notes": ILLUSTRATIVE,
                "depends_on": ["Registration declared effective"],
            },
            {
                "kind": MilestoneKind.IPO_STEP,
                "title": "Shares listed",
                "step": IpoStepType.LISTED,
                "status": "planned",
                "target_date": D(2027, 3, 18),
                "exchange": "Nasdaq",
                "notes": ILLUSTRATIVE,
                "depends_on": [("IPO priced", 1)],
            },
            {
                "kind": MilestoneKind.IPO_STEP,
                "title": "Lock-up expiry",
                "step": IpoStepType.LOCKUP_EXPIRY,
                "status": "planned",
                "target_date": D(2027, 9, 14),
                "notes": ILLUSTRATIVE,
                "depends_on": [("Shares listed", 180)],
            },
        ],
    },
]


def demo_load() -> dict[str, int]:
    """Create or bring up to date the demo record; returns counts of what was created."""
    created = {"organizations": 0, "processes": 0, "milestones": 0, "EDGAR filings": 0}
    with transaction.atomic():
        # Before the organization and process rows it locks: milestone writes take the
        # schedule lock first, then their process row.
        schedule_lock()
        organizations = {}
        for data in ORGANIZATIONS:
            organization = Organization.objects.filter(slug=data["slug"]).first()
            if organization is None:
                organization = organization_create(actor=ACTOR, data=data)
                created["organizations"] += 1
            else:
                organization = organization_update(
                    actor=ACTOR, organization=organization, data=data
                )
            organizations[data["slug"]] = organization
        for spec in PROCESSES:
            data = {k: v for k, v in spec.items() if k != "milestones"}
            data["organization"] = organizations[data["organization"]]
            process = Process.objects.filter(
                organization=data["organization"], slug=data["slug"]
            ).first()
            if process is None:
                process = process_create(actor=ACTOR, data=data)
                created["processes"] += 1
            else:
                process = process_update(actor=ACTOR, process=process, data=data)
            created["milestones"] += _load_milestones(process, spec["milestones"])
        created["EDGAR filings"] = _import_edgar(organizations[EDGAR_DEMO_ORGANIZATION])
    return created


def _import_edgar(organization: Organization) -> int:
    """Import the made-up company's IPO as ``edgar_sync --file`` does; returns the number
    of filings imported (none once they are)."""
    outcome = organization_sync(
        organization=organization, document=EDGAR_DEMO_SUBMISSIONS.read_bytes()
    )
    if outcome.status == "failed":
        raise RuntimeError(f"The demo's EDGAR document did not import: {outcome.message}")
    return len(outcome.result.imported) if outcome.result else 0  # none when it was busy


def _load_milestones(process: Process, specs: list[dict]) -> int:
    created = 0
    by_title = {m.title: m for m in Milestone.objects.filter(process=process)}
    slipped = []
    for position, spec in enumerate(specs, start=1):
        data = {k: v for k, v in spec.items() if k not in {"kind", "depends_on", "slipped_from"}}
        data.update(process=process, position=position)
        depends_on = [
            Dependency(by_title[item], 0)
            if isinstance(item, str)
            else Dependency(by_title[item[0]], item[1])
            for item in spec.get("depends_on", [])
        ]
        existing = by_title.get(spec["title"])
        if existing is None and "slipped_from" in spec:
            # Created as first planned; it slips once the whole chain exists, so the history
            # shows the slip and then what it put at risk.
            planned = {**data, "status": "planned", "target_date": spec["slipped_from"]}
            by_title[spec["title"]] = milestone_create(
                actor=ACTOR, kind=spec["kind"], data=planned, depends_on=depends_on
            )
            slipped.append((spec["title"], data))
            created += 1
        elif existing is None:
            by_title[spec["title"]] = milestone_create(
                actor=ACTOR, kind=spec["kind"], data=data, depends_on=depends_on
            )
            created += 1
        else:
            by_title[spec["title"]] = milestone_update(
                actor=ACTOR, milestone=existing.typed(), data=data, depends_on=depends_on
            )
    for title, data in slipped:
        milestone_update(actor=ACTOR, milestone=by_title[title].typed(), data=data)
    return created
