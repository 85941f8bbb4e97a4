"""The record: organizations, processes and milestones (generic and typed). Reads use the
selectors; writes call the same services as the admin, so they write the same events."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.response import Response

from tracker.api.filters import MilestoneFilter, OrganizationFilter, ProcessFilter
from tracker.api.pagination import IdsFirstPagePagination
from tracker.api.permissions import RecordPermission
from tracker.api.serializers.record import (
    AgReviewSerializer,
    FilingSerializer,
    IpoStepSerializer,
    MilestoneSerializer,
    OrganizationSerializer,
    ProcessSerializer,
)
from tracker.api.serializers.schedule import ScheduleSerializer
from tracker.models import MilestoneKind
from tracker.selectors import record as selectors
from tracker.selectors.schedule import process_schedule
from tracker.services.milestones import milestone_create, milestone_delete, milestone_update
from tracker.services.organizations import (
    organization_create,
    organization_delete,
    organization_update,
)
from tracker.services.processes import process_create, process_delete, process_update

from .base import ServiceViewSet

_WRITE_NOTE = (
    ' Writing needs the model permission (the "editors" group). Send the ETag you read as '
    "If-Match to refuse the write (412) if the row changed meanwhile."
)


@extend_schema_view(
    list=extend_schema(summary="List organizations"),
    retrieve=extend_schema(summary="Get an organization"),
    create=extend_schema(summary="Create an organization", description=_WRITE_NOTE),
    update=extend_schema(summary="Replace an organization", description=_WRITE_NOTE),
    partial_update=extend_schema(summary="Change an organization", description=_WRITE_NOTE),
    destroy=extend_schema(
        summary="Delete an organization",
        description="Only an organization without processes can be deleted." + _WRITE_NOTE,
    ),
)
class OrganizationViewSet(ServiceViewSet):
    """Companies, nonprofits and other bodies whose processes are tracked."""

    serializer_class = OrganizationSerializer
    permission_classes = [RecordPermission]
    filterset_class = OrganizationFilter
    search_fields = ["name", "slug", "ticker", "cik"]
    ordering_fields = ["name", "slug", "created_at", "updated_at"]
    ordering = ["name"]

    def get_queryset(self):
        return selectors.organization_list()

    def service_create(self, data, related):
        return organization_create(actor=self.request.user, data=data)

    def service_update(self, instance, data, related, expected_version):
        return organization_update(
            actor=self.request.user,
            organization=instance,
            data=data,
            expected_version=expected_version,
        )

    def service_delete(self, instance, expected_version):
        organization_delete(
            actor=self.request.user, organization=instance, expected_version=expected_version
        )


@extend_schema_view(
    list=extend_schema(summary="List processes"),
    retrieve=extend_schema(summary="Get a process"),
    create=extend_schema(summary="Create a process", description=_WRITE_NOTE),
    update=extend_schema(summary="Replace a process", description=_WRITE_NOTE),
    partial_update=extend_schema(summary="Change a process", description=_WRITE_NOTE),
    destroy=extend_schema(
        summary="Delete a process",
        description="Deletes its milestones too, each with a milestone.deleted event."
        + _WRITE_NOTE,
    ),
)
class ProcessViewSet(ServiceViewSet):
    """One organization's regulatory or corporate process (a restructuring, an IPO...)."""

    serializer_class = ProcessSerializer
    permission_classes = [RecordPermission]
    filterset_class = ProcessFilter
    search_fields = ["title", "summary", "slug"]
    ordering_fields = ["title", "created_at", "updated_at"]
    ordering = ["organization__name", "title"]

    def get_queryset(self):
        return selectors.process_list()

    def service_create(self, data, related):
        return process_create(actor=self.request.user, data=data)

    def service_update(self, instance, data, related, expected_version):
        return process_update(
            actor=self.request.user,
            process=instance,
            data=data,
            expected_version=expected_version,
        )

    def service_delete(self, instance, expected_version):
        process_delete(actor=self.request.user, process=instance, expected_version=expected_version)

    @extend_schema(
        summary="Get a process's schedule",
        description="Its milestones in order with target, forecast and actual dates, slip, "
        "at-risk state and whether each is on the critical path (the chain that decides the "
        "process's last forecast date).",
        responses=ScheduleSerializer,
    )
    @action(detail=True, methods=["get"], serializer_class=ScheduleSerializer)
    def schedule(self, request, pk=None):
        return Response(ScheduleSerializer(process_schedule(process=self.get_object())).data)


class _MilestoneViewSet(ServiceViewSet):
    permission_classes = [RecordPermission]
    pagination_class = IdsFirstPagePagination
    filterset_class = MilestoneFilter
    search_fields = ["title", "notes"]
    ordering_fields = [
        "target_date",
        "actual_date",
        "position",
        "title",
        "status",
        "created_at",
        "updated_at",
    ]
    ordering = ["process_id", "position", "target_date", "id"]
    related_fields = ("depends_on",)
    kind: str = MilestoneKind.GENERIC

    def rows(self):
        """The bare queryset of this resource's milestones (a selector)."""
        raise NotImplementedError

    def get_queryset(self):
        # A list filters and pages the bare rows; IdsFirstPagePagination then loads the
        # page's rows through page_rows(). Everything else shows one row: load it whole.
        if self.action == "list":
            return self.rows()
        return selectors.milestone_rows(self.rows())

    def page_rows(self, queryset):
        return selectors.milestone_rows(queryset)

    def service_create(self, data, related):
        return milestone_create(
            actor=self.request.user,
            kind=self.kind,
            data=data,
            depends_on=related.get("depends_on", ()),
        )

    def service_update(self, instance, data, related, expected_version):
        return milestone_update(
            actor=self.request.user,
            milestone=instance,
            data=data,
            depends_on=related.get("depends_on"),
            expected_version=expected_version,
        )

    def service_delete(self, instance, expected_version):
        milestone_delete(
            actor=self.request.user, milestone=instance, expected_version=expected_version
        )


def _milestone_schema(noun: str, plural: str, extra: str = ""):
    return extend_schema_view(
        list=extend_schema(summary=f"List {plural}"),
        retrieve=extend_schema(summary=f"Get {noun}"),
        create=extend_schema(summary=f"Create {noun}", description=extra + _WRITE_NOTE),
        update=extend_schema(summary=f"Replace {noun}", description=extra + _WRITE_NOTE),
        partial_update=extend_schema(summary=f"Change {noun}", description=extra + _WRITE_NOTE),
        destroy=extend_schema(summary=f"Delete {noun}", description=_WRITE_NOTE),
    )


@_milestone_schema(
    "a milestone",
    "milestones of every kind",
    "Creates a generic milestone; filings, AG reviews and IPO steps are created at their own "
    "resources. Changes here touch only the fields every kind has.",
)
class MilestoneViewSet(_MilestoneViewSet):
    """Milestones of every kind; ``details`` holds a typed kind's own fields."""

    serializer_class = MilestoneSerializer

    def rows(self):
        return selectors.milestone_list()


@_milestone_schema("a filing", "filings")
class FilingViewSet(_MilestoneViewSet):
    """Documents filed with an agency: SEC forms, state certificates, court filings."""

    serializer_class = FilingSerializer
    kind = MilestoneKind.FILING
    ordering_fields = [*_MilestoneViewSet.ordering_fields, "filed_on"]

    def rows(self):
        return selectors.filing_list()


@_milestone_schema("an AG review", "attorney-general reviews")
class AgReviewViewSet(_MilestoneViewSet):
    """Attorneys general's reviews of a transaction, such as a nonprofit's conversion."""

    serializer_class = AgReviewSerializer
    kind = MilestoneKind.AG_REVIEW
    ordering_fields = [*_MilestoneViewSet.ordering_fields, "decided_on"]

    def rows(self):
        return selectors.ag_review_list()


@_milestone_schema("an IPO step", "IPO steps")
class IpoStepViewSet(_MilestoneViewSet):
    """Steps on the way to a listing: confidential draft, S-1, comments, pricing, listing."""

    serializer_class = IpoStepSerializer
    kind = MilestoneKind.IPO_STEP

    def rows(self):
        return selectors.ipo_step_list()
