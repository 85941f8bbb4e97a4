"""Reads of the record: organizations, processes and milestones of every kind."""

from django.db.models import Prefetch, QuerySet

from tracker.models import (
    AgReview,
    Filing,
    IpoStep,
    Milestone,
    MilestoneDependency,
    Organization,
    Process,
)

# The typed child rows of a milestone, joined in the same query as the milestone itself.
_KIND_CHILDREN = ("filing", "agreview", "ipostep")


def organization_list() -> QuerySet[Organization]:
    """Every organization, by name."""
    return Organization.objects.all()


def process_list() -> QuerySet[Process]:
    """Every process with its organization joined."""
    return Process.objects.select_related("organization")


def _dependencies() -> Prefetch:
    # Only the ids are shown, so the link table alone answers (no join to milestones).
    return Prefetch(
        "dependency_links",
        queryset=MilestoneDependency.objects.only("id", "milestone_id", "depends_on_id").order_by(
            "depends_on_id"
        ),
    )


def milestone_list() -> QuerySet[Milestone]:
    """Milestones of every kind, each with its typed child row, process, organization and
    dependency ids loaded in a constant number of queries (two, whatever the page size)."""
    return Milestone.objects.select_related(
        "process__organization", *_KIND_CHILDREN
    ).prefetch_related(_dependencies())


def filing_list() -> QuerySet[Filing]:
    """Filings, loaded like ``milestone_list``."""
    return Filing.objects.select_related("process__organization").prefetch_related(_dependencies())


def ag_review_list() -> QuerySet[AgReview]:
    """Attorney-general reviews, loaded like ``milestone_list``."""
    return AgReview.objects.select_related("process__organization").prefetch_related(
        _dependencies()
    )


def ipo_step_list() -> QuerySet[IpoStep]:
    """IPO steps, loaded like ``milestone_list``."""
    return IpoStep.objects.select_related("process__organization").prefetch_related(_dependencies())
