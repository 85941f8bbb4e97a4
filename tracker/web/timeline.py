"""What a timeline shows for each milestone: its schedule against the plan and its typed facts.

Built from rows the selectors already loaded (typed children and dependencies included), so
it runs no queries.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.utils.formats import date_format

from tracker.models import Milestone, MilestoneDependency, MilestoneKind, MilestoneStatus


@dataclass(frozen=True)
class Detail:
    label: str
    value: str
    url: str = ""
    # Free text (conditions) takes the full width instead of one narrow column.
    wide: bool = False


@dataclass(frozen=True)
class TimelineEntry:
    milestone: Milestone
    details: list[Detail]
    # The links to what it depends on (``depends_on`` and ``min_gap_days``).
    dependencies: list[MilestoneDependency]
    # Completed: actual minus target (positive is late). Open and past target: days overdue.
    slip_days: int | None
    overdue_days: int | None
    due_in_days: int | None

    @property
    def schedule_note(self) -> str:
        """A few words comparing the plan with what happened (or has not happened yet)."""
        if self.overdue_days is not None:
            return f"Overdue by {_days(self.overdue_days)}"
        if self.slip_days is not None:
            if self.slip_days > 0:
                return f"{_days(self.slip_days)} late"
            if self.slip_days < 0:
                return f"{_days(-self.slip_days)} early"
            return "On time"
        if self.due_in_days is not None:
            return "Due today" if self.due_in_days == 0 else f"Due in {_days(self.due_in_days)}"
        return ""

    @property
    def schedule_label(self) -> str:
        """ "Slip" once a milestone is late or done; before that, its schedule."""
        return "Slip" if self.slip_days is not None or self.is_overdue else "Schedule"

    @property
    def shows_forecast(self) -> bool:
        """Open, and forecast later than planned: worth a line of its own."""
        m = self.milestone
        return bool(
            not m.actual_date
            and m.forecast_date
            and m.target_date
            and m.forecast_date > m.target_date
        )

    @property
    def is_overdue(self) -> bool:
        return self.overdue_days is not None

    @property
    def is_late(self) -> bool:
        """Overdue, or completed after its target date."""
        return self.is_overdue or (self.slip_days or 0) > 0


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def timeline_entries(
    milestones: list[Milestone], *, today: datetime.date, full: bool = True
) -> list[TimelineEntry]:
    """One entry per milestone, in the order given.

    ``full`` adds typed details and dependencies; the milestones must then come from
    ``timeline_milestone_list`` (which loads both), or each entry would cost queries.
    """
    return [timeline_entry(milestone, today=today, full=full) for milestone in milestones]


def timeline_entry(
    milestone: Milestone, *, today: datetime.date, full: bool = True
) -> TimelineEntry:
    overdue = due_in = None
    if not milestone.is_closed and milestone.target_date:
        if milestone.target_date < today:
            overdue = (today - milestone.target_date).days
        else:
            due_in = (milestone.target_date - today).days
    slip = milestone.slip_days if milestone.status == MilestoneStatus.COMPLETED else None
    return TimelineEntry(
        milestone=milestone,
        details=typed_details(milestone) if full else [],
        dependencies=list(milestone.dependency_links.all()) if full else [],
        slip_days=slip,
        overdue_days=overdue,
        due_in_days=due_in,
    )


def _child(milestone: Milestone, accessor: str) -> Milestone | None:
    try:
        return getattr(milestone, accessor)
    except ObjectDoesNotExist:
        return None


def _date(value: datetime.date | None) -> str:
    return date_format(value, "j M Y") if value else ""


def _money(value: Decimal | None) -> str:
    return f"${value:,.2f}" if value is not None else ""


def typed_details(milestone: Milestone) -> list[Detail]:
    """The facts that only a filing, an AG review or an IPO step has, as label and value."""
    details: list[Detail] = []
    if milestone.kind == MilestoneKind.FILING and (filing := _child(milestone, "filing")):
        details = [
            Detail("Agency", filing.get_agency_display()),
            Detail("Form type", filing.form_type),
            Detail("Accession or reference number", filing.accession_number),
            Detail("Filed on", _date(filing.filed_on)),
            Detail("Document", filing.document_url, url=filing.document_url),
        ]
    elif milestone.kind == MilestoneKind.AG_REVIEW and (review := _child(milestone, "agreview")):
        details = [
            Detail("Authority", review.get_authority_display()),
            Detail("Stage", review.get_stage_display()),
            Detail("Decided on", _date(review.decided_on)),
            Detail("Conditions", review.conditions, wide=True),
        ]
    elif milestone.kind == MilestoneKind.IPO_STEP and (step := _child(milestone, "ipostep")):
        price_range = ""
        if step.price_range_low is not None and step.price_range_high is not None:
            price_range = f"{_money(step.price_range_low)} – {_money(step.price_range_high)}"
        else:
            price_range = _money(step.price_range_low or step.price_range_high)
        details = [
            Detail("Step", step.get_step_display()),
            Detail("Exchange", step.exchange),
            Detail("Ticker", step.ticker),
            Detail("Price range", price_range),
            Detail("Offer price", _money(step.offer_price)),
            Detail(
                "Shares offered",
                f"{step.shares_offered:,}" if step.shares_offered is not None else "",
            ),
        ]
    return [detail for detail in details if detail.value]
