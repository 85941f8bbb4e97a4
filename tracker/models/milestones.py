import contextlib
import contextvars
import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from tracker.validators import (
    EARLIEST_DATE,
    LATEST_DATE,
    http_url_validator,
    validate_sane_date,
    validate_sec_accession_number,
    validate_ticker,
)

from .processes import Process

# The largest position (PostgreSQL's integer).
MAX_POSITION = 2**31 - 1


class MilestoneKind(models.TextChoices):
    GENERIC = "milestone", "Milestone"
    FILING = "filing", "Filing"
    AG_REVIEW = "ag_review", "AG review"
    IPO_STEP = "ipo_step", "IPO step"


class MilestoneStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    DELAYED = "delayed", "Delayed"
    BLOCKED = "blocked", "Blocked"
    CANCELLED = "cancelled", "Cancelled"


# A milestone in one of these states is finished: reminders and overdue alerts skip it.
CLOSED_STATUSES = (MilestoneStatus.COMPLETED, MilestoneStatus.CANCELLED)

# Ten years: a longer minimum gap between two steps of one process is a typing mistake.
MAX_GAP_DAYS = 3650


# How many days past today an actual date may lie: 0 for editors; an importer of facts dated
# by someone else's calendar (EDGAR dates a filing accepted after 17:30 New York time with
# the next business day, up to three days past today in UTC) widens it for its own writes.
_actual_date_leeway: contextvars.ContextVar[int] = contextvars.ContextVar(
    "actual_date_leeway", default=0
)


def latest_actual_date() -> datetime.date:
    """The latest actual date a milestone may have now (today, unless widened)."""
    return timezone.localdate() + datetime.timedelta(days=_actual_date_leeway.get())


@contextlib.contextmanager
def actual_dates_up_to(days_ahead: int):
    """Within this block, actual dates up to ``days_ahead`` days past today are accepted."""
    token = _actual_date_leeway.set(days_ahead)
    try:
        yield
    finally:
        _actual_date_leeway.reset(token)


class Milestone(models.Model):
    """One step of a process. Every kind lives in this table; typed kinds add a child row.

    Events, subscriptions and timelines deal with this one table; ``Filing``, ``AgReview``
    and ``IpoStep`` extend it through multi-table inheritance.
    """

    process = models.ForeignKey(Process, on_delete=models.PROTECT, related_name="milestones")
    kind = models.CharField(
        max_length=16, choices=MilestoneKind.choices, default=MilestoneKind.GENERIC, editable=False
    )
    title = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=MilestoneStatus.choices, default=MilestoneStatus.PLANNED
    )
    target_date = models.DateField(
        null=True, blank=True, validators=[validate_sane_date], help_text="When it is expected."
    )
    actual_date = models.DateField(
        null=True, blank=True, validators=[validate_sane_date], help_text="When it happened."
    )
    source_url = models.URLField(max_length=500, blank=True, validators=[http_url_validator])
    notes = models.TextField(blank=True)
    depends_on = models.ManyToManyField(
        "self",
        through="MilestoneDependency",
        symmetrical=False,
        related_name="dependents",
        blank=True,
    )
    # Bounded as PostgreSQL's integer is, so that SQLite (the demo) accepts the same values.
    position = models.PositiveIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_POSITION)],
        help_text="Order within its process.",
    )
    # The schedule, computed by tracker.services.schedule in the transaction of every change
    # that moves it (never edited directly): the actual date once it happened, else the
    # later of the target date and each dependency's forecast plus its minimum gap.
    forecast_date = models.DateField(
        null=True,
        blank=True,
        editable=False,
        help_text="When it is expected given its dependencies: the actual date once it "
        "happened; none when cancelled or undated.",
    )
    at_risk = models.BooleanField(
        default=False,
        editable=False,
        help_text="Open and forecast after its target date, or its target date has passed.",
    )
    at_risk_reason = models.CharField(
        max_length=500, blank=True, editable=False, help_text="Why it is at risk, in words."
    )
    # What puts it at risk, as a key ("after:<dependency id>:<its forecast>:<gap>",
    # "passed:<target date>"): an alert fires when the cause changes, never twice for one.
    at_risk_cause = models.CharField(max_length=100, blank=True, editable=False)
    # Optimistic locking: a save names the version it was read at and is refused when the
    # row has moved on since (see tracker.services.milestones).
    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["process_id", "position", "target_date", "id"]
        indexes = [
            models.Index(fields=["status", "target_date"]),
            models.Index(fields=["process", "position"]),
            models.Index(
                fields=["at_risk"], name="milestone_at_risk_idx", condition=Q(at_risk=True)
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=MilestoneStatus.COMPLETED) | Q(actual_date__isnull=False),
                name="milestone_completed_has_actual_date",
                violation_error_message="A completed milestone needs an actual date.",
            ),
            models.CheckConstraint(
                condition=Q(target_date__isnull=True)
                | Q(target_date__gte=EARLIEST_DATE, target_date__lte=LATEST_DATE),
                name="milestone_target_date_sane",
            ),
            models.CheckConstraint(
                condition=Q(actual_date__isnull=True)
                | Q(actual_date__gte=EARLIEST_DATE, actual_date__lte=LATEST_DATE),
                name="milestone_actual_date_sane",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def clean(self):
        errors = {}
        if self.status == MilestoneStatus.COMPLETED and not self.actual_date:
            errors["actual_date"] = "A completed milestone needs the date it happened."
        if self.actual_date and self.actual_date > latest_actual_date():
            errors["actual_date"] = (
                "The actual date is when it happened, so it cannot be in the future; "
                "use the target date for what is expected."
            )
        if errors:
            raise ValidationError(errors)

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def slip_days(self) -> int | None:
        """Days between target and actual date (positive: late); None until both are known."""
        if self.target_date and self.actual_date:
            return (self.actual_date - self.target_date).days
        return None

    def typed(self) -> "Milestone":
        """The most specific object for this row (a Filing, AgReview or IpoStep, or self)."""
        accessor = {
            MilestoneKind.FILING: "filing",
            MilestoneKind.AG_REVIEW: "agreview",
            MilestoneKind.IPO_STEP: "ipostep",
        }.get(self.kind)
        if accessor is None or type(self) is not Milestone:
            return self
        return getattr(self, accessor)


class MilestoneDependency(models.Model):
    """``milestone`` cannot happen before ``depends_on``, nor sooner than ``min_gap_days``
    after it (a public S-1 at least 15 days before the roadshow)."""

    milestone = models.ForeignKey(
        Milestone, on_delete=models.CASCADE, related_name="dependency_links"
    )
    depends_on = models.ForeignKey(
        Milestone, on_delete=models.CASCADE, related_name="dependent_links"
    )
    min_gap_days = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(MAX_GAP_DAYS)],
        help_text=f"Days that must pass after the dependency (0 to {MAX_GAP_DAYS}).",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["milestone", "depends_on"], name="milestone_dependency_unique"
            ),
            models.CheckConstraint(
                condition=~Q(milestone=F("depends_on")),
                name="milestone_dependency_not_self",
                violation_error_message="A milestone cannot depend on itself.",
            ),
            models.CheckConstraint(
                condition=Q(min_gap_days__gte=0, min_gap_days__lte=MAX_GAP_DAYS),
                name="milestone_dependency_gap_sane",
                violation_error_message=f"A minimum gap is 0 to {MAX_GAP_DAYS} days.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.milestone_id} depends on {self.depends_on_id}"


class Agency(models.TextChoices):
    SEC = "sec", "SEC"
    SECRETARY_OF_STATE = "secretary_of_state", "State secretary of state"
    STATE_AG = "state_ag", "State attorney general"
    COURT = "court", "Court"
    OTHER = "other", "Other"


class Filing(Milestone):
    """A document filed with an agency: an SEC form, a state certificate, a court filing."""

    agency = models.CharField(max_length=32, choices=Agency.choices, default=Agency.SEC)
    form_type = models.CharField(
        max_length=60,
        blank=True,
        help_text="For example DRS, S-1, S-1/A, EFFECT, 424B4, 8-K, Certificate of conversion.",
    )
    accession_number = models.CharField(
        "accession or reference number",
        max_length=64,
        blank=True,
        help_text="SEC accession numbers look like 0001234567-25-000123.",
    )
    filed_on = models.DateField(null=True, blank=True, validators=[validate_sane_date])
    document_url = models.URLField(max_length=500, blank=True, validators=[http_url_validator])

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["accession_number"],
                condition=~Q(accession_number=""),
                name="filing_accession_number_unique",
                violation_error_message="Another filing already has this accession number.",
            ),
        ]

    def clean(self):
        errors = {}
        try:
            super().clean()
        except ValidationError as error:
            errors = error.update_error_dict(errors)
        self.accession_number = self.accession_number.strip()
        if self.agency == Agency.SEC and self.accession_number:
            try:
                validate_sec_accession_number(self.accession_number)
            except ValidationError as error:
                errors.setdefault("accession_number", []).extend(error.messages)
        if errors:
            raise ValidationError(errors)


class AgAuthority(models.TextChoices):
    DELAWARE = "de_ag", "Delaware Attorney General"
    CALIFORNIA = "ca_ag", "California Attorney General"
    NEW_YORK = "ny_ag", "New York Attorney General"
    OTHER = "other", "Other"


class AgStage(models.TextChoices):
    NOTICE_FILED = "notice_filed", "Notice filed"
    UNDER_REVIEW = "under_review", "Under review"
    INFORMATION_REQUESTED = "information_requested", "Information requested"
    CONDITIONS_PROPOSED = "conditions_proposed", "Conditions proposed"
    NO_OBJECTION = "no_objection", "No objection or approved"
    OBJECTION = "objection", "Objection"
    LITIGATION = "litigation", "Litigation"
    WITHDRAWN = "withdrawn", "Withdrawn"


class AgReview(Milestone):
    """An attorney general's review of a transaction, such as a nonprofit's conversion."""

    authority = models.CharField(max_length=16, choices=AgAuthority.choices)
    stage = models.CharField(max_length=32, choices=AgStage.choices, default=AgStage.NOTICE_FILED)
    conditions = models.TextField(blank=True)
    decided_on = models.DateField(null=True, blank=True, validators=[validate_sane_date])

    class Meta:
        verbose_name = "AG review"


class IpoStepType(models.TextChoices):
    UNDERWRITERS_SELECTED = "underwriters_selected", "Underwriters selected"
    CONFIDENTIAL_DRAFT = "confidential_draft_submitted", "Confidential draft submitted"
    PUBLIC_FILING = "public_registration_filed", "Public registration filed"
    SEC_COMMENTS = "sec_comment_round", "SEC comment round"
    EFFECTIVE = "registration_effective", "Registration effective"
    ROADSHOW = "roadshow_launched", "Roadshow launched"
    PRICED = "priced", "Priced"
    LISTING_REGISTERED = "listing_registered", "Listing registered"
    EXCHANGE_CERTIFIED = "exchange_certified", "Exchange certified"
    LISTED = "listed", "Listed"
    LOCKUP_EXPIRY = "lockup_expiry", "Lock-up expiry"


class IpoStep(Milestone):
    """One step on the way to (and just after) a listing."""

    step = models.CharField(max_length=40, choices=IpoStepType.choices)
    exchange = models.CharField(max_length=40, blank=True)
    ticker = models.CharField(max_length=10, blank=True, validators=[validate_ticker])
    price_range_low = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    price_range_high = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    offer_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    shares_offered = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = "IPO step"
        constraints = [
            models.CheckConstraint(
                condition=Q(price_range_low__isnull=True)
                | Q(price_range_high__isnull=True)
                | Q(price_range_low__lte=F("price_range_high")),
                name="ipo_step_price_range_ordered",
                violation_error_message="The low end of the price range is above the high end.",
            ),
            models.CheckConstraint(
                condition=(Q(price_range_low__isnull=True) | Q(price_range_low__gt=0))
                & (Q(price_range_high__isnull=True) | Q(price_range_high__gt=0))
                & (Q(offer_price__isnull=True) | Q(offer_price__gt=0)),
                name="ipo_step_prices_positive",
                violation_error_message="Prices must be positive.",
            ),
        ]
