"""Reads of the record: organizations, processes and milestones of every kind."""

from django.db.models import F, Prefetch, QuerySet

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
    """Every organization, by name, with its EDGAR sync state joined."""
    return Organization.objects.select_related("edgar_sync")


def process_list() -> QuerySet[Process]:
    """Every process with its organization joined."""
    return Process.objects.select_related("organization")


def _dependencies() -> Prefetch:
    # Only ids and gaps are shown, so the link table alone answers (no join to milestones); a
    # plain list attribute spares building a related manager per row.
    return Prefetch(
        "dependency_links",
        queryset=MilestoneDependency.objects.only(
            "id", "milestone_id", "depends_on_id", "min_gap_days"
        ).order_by("depends_on_id"),
        to_attr="dependency_links_loaded",
    )


def milestone_list() -> QuerySet[Milestone]:
    """Milestones of every kind, bare: filter, order, count and page this, then load the
    rows of one page with ``milestone_rows`` (joining only the rows that are shown)."""
    return Milestone.objects.all()


def filing_list() -> QuerySet[Filing]:
    """Filings, bare, like ``milestone_list``."""
    return Filing.objects.all()


def ag_review_list() -> QuerySet[AgReview]:
    """Attorney-general reviews, bare, like ``milestone_list``."""
    return AgReview.objects.all()


def ipo_step_list() -> QuerySet[IpoStep]:
    """IPO steps, bare, like ``milestone_list``."""
    return IpoStep.objects.all()


def milestone_rows(queryset: QuerySet[Milestone]) -> QuerySet[Milestone]:
    """``queryset`` with what showing a milestone needs, in a constant number of queries:
    its typed child row (for generic milestones), its organization's slug (annotated: a
    join but no model instances) and its dependency links (one prefetch query, as the list
    ``dependency_links_loaded``)."""
    if queryset.model is Milestone:
        queryset = queryset.select_related(*_KIND_CHILDREN)
    return queryset.annotate(organization_slug=F("process__organization__slug")).prefetch_related(
        _dependencies()
    )
