"""Organizations, processes and milestones of every kind."""

from collections.abc import Mapping

from drf_spectacular.utils import (
    OpenApiExample,
    PolymorphicProxySerializer,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers

from tracker.models import (
    AgReview,
    EdgarSync,
    Filing,
    IpoStep,
    Milestone,
    MilestoneKind,
    Organization,
    Process,
)
from tracker.models.milestones import MAX_GAP_DAYS
from tracker.selectors.record import milestone_list
from tracker.services.milestones import Dependency

# 2**63 - 1: ids are PostgreSQL bigints; a larger number can only be "not found".
MAX_ID = 9_223_372_036_854_775_807
MAX_DEPENDENCIES = 100


class EdgarSyncSerializer(serializers.ModelSerializer):
    """The importer's last sync with EDGAR (read-only)."""

    class Meta:
        model = EdgarSync
        fields = ["checked_at", "synced_at", "status", "summary", "error", "failed_at"]
        read_only_fields = fields


class OrganizationSerializer(serializers.ModelSerializer):
    edgar_sync = EdgarSyncSerializer(
        read_only=True,
        allow_null=True,
        help_text="The last sync with EDGAR; null until the organization has been synced.",
    )
    cik = serializers.CharField(
        max_length=10,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="SEC Central Index Key, 1 to 10 digits; stored zero-padded to 10.",
    )

    class Meta:
        model = Organization
        fields = [
            "id",
            "name",
            "slug",
            "cik",
            "ticker",
            "state_of_incorporation",
            "website",
            "follow_edgar",
            "edgar_sync",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["version", "created_at", "updated_at"]
        extra_kwargs = {
            "slug": {"required": False, "help_text": "Made from the name when left out."}
        }


class ProcessSerializer(serializers.ModelSerializer):
    organization = serializers.PrimaryKeyRelatedField(
        queryset=Organization.objects.all(), help_text="The organization's id."
    )
    organization_slug = serializers.CharField(source="organization.slug", read_only=True)

    class Meta:
        model = Process
        fields = [
            "id",
            "organization",
            "organization_slug",
            "kind",
            "title",
            "slug",
            "status",
            "summary",
            "version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["version", "created_at", "updated_at"]
        extra_kwargs = {
            "slug": {"required": False, "help_text": "Made from the title when left out."}
        }
        # The pair (organization, slug) is unique; the service reports a clash as a 400.
        validators = []


class DependencySerializer(serializers.Serializer):
    """One dependency: the milestone that must happen first and the minimum gap after it."""

    id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    min_gap_days = serializers.IntegerField(
        min_value=0,
        max_value=MAX_GAP_DAYS,
        required=False,
        help_text="Days that must pass after that milestone. Left out: the link's current "
        "gap, or 0 for a new link.",
    )

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: "Unknown field." for name in unknown})
        return super().to_internal_value(data)


class DependencyItemField(serializers.Field):
    """A dependency written as an id (the gap unchanged, or 0) or as ``{"id", "min_gap_days"}``."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            item = DependencySerializer().run_validation(data)
            return item["id"], item.get("min_gap_days")
        pk = serializers.IntegerField(min_value=1, max_value=MAX_ID).run_validation(data)
        return pk, None

    def to_representation(self, link):
        return {"id": link.depends_on_id, "min_gap_days": link.min_gap_days}


class DependsOnField(serializers.ListField):
    """The milestones this one depends on, with gaps; read from the prefetched link rows."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", DependencyItemField())
        kwargs.setdefault("max_length", MAX_DEPENDENCIES)
        kwargs.setdefault("required", False)
        kwargs.setdefault(
            "help_text",
            "The milestones that must happen before this one. Write ids, or objects "
            '`{"id", "min_gap_days"}` to set the minimum gap in days (an id alone keeps the '
            "link's gap, 0 for a new one); read as objects. Any milestone of any process "
            "can be named; an unknown id, an id named twice, a gap outside 0..3650 days or "
            "a cycle is refused (400).",
        )
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        # Loaded by tracker.selectors.record.milestone_rows.
        return instance.dependency_links_loaded


_COMMON_FIELDS = [
    "id",
    "kind",
    "process",
    "organization",
    "title",
    "status",
    "target_date",
    "actual_date",
    "source_url",
    "notes",
    "depends_on",
    "forecast_date",
    "at_risk",
    "at_risk_reason",
    "position",
    "version",
    "created_at",
    "updated_at",
]
_READ_ONLY_FIELDS = [
    "kind",
    "forecast_date",
    "at_risk",
    "at_risk_reason",
    "version",
    "created_at",
    "updated_at",
]
FILING_FIELDS = ["agency", "form_type", "accession_number", "filed_on", "document_url"]
AG_REVIEW_FIELDS = ["authority", "stage", "conditions", "decided_on"]
IPO_STEP_FIELDS = [
    "step",
    "exchange",
    "ticker",
    "price_range_low",
    "price_range_high",
    "offer_price",
    "shares_offered",
]


class _MilestoneBase(serializers.ModelSerializer):
    process = serializers.PrimaryKeyRelatedField(
        queryset=Process.objects.all(), help_text="The process's id."
    )
    organization = serializers.CharField(
        source="organization_slug",
        read_only=True,
        help_text="The slug of the process's organization.",
    )
    depends_on = DependsOnField()

    def validate_depends_on(self, items: list[tuple[int, int | None]]) -> list[Dependency]:
        gaps = dict(items)
        if len(gaps) != len(items):
            raise serializers.ValidationError("Each milestone can be named once.")
        # The record has no per-caller visibility: any existing milestone, in any process,
        # can be depended on. What is checked here is that each id exists (else a 400).
        found = {m.pk: m for m in milestone_list().filter(pk__in=set(gaps))}
        missing = sorted(set(gaps) - set(found))
        if missing:
            raise serializers.ValidationError(
                f"No milestone has the id(s) {', '.join(map(str, missing))}."
            )
        return [Dependency(found[pk], gap) for pk, gap in gaps.items()]


class FilingDetailsSerializer(serializers.ModelSerializer):
    # A plain string: the schema of a read-only URLField says "uri", which "" (none) is not.
    document_url = serializers.CharField(read_only=True, help_text="Empty when unknown.")

    class Meta:
        model = Filing
        fields = FILING_FIELDS
        # Read-only here, so the schema marks each one present: that tells the kinds apart.
        read_only_fields = FILING_FIELDS


class AgReviewDetailsSerializer(serializers.ModelSerializer):
    class Meta:
        model = AgReview
        fields = AG_REVIEW_FIELDS
        # Read-only here, so the schema marks each one present: that tells the kinds apart.
        read_only_fields = AG_REVIEW_FIELDS


class IpoStepDetailsSerializer(serializers.ModelSerializer):
    class Meta:
        model = IpoStep
        fields = IPO_STEP_FIELDS
        # Read-only here, so the schema marks each one present: that tells the kinds apart.
        read_only_fields = IPO_STEP_FIELDS


_DETAILS_SERIALIZERS = {
    MilestoneKind.FILING: FilingDetailsSerializer,
    MilestoneKind.AG_REVIEW: AgReviewDetailsSerializer,
    MilestoneKind.IPO_STEP: IpoStepDetailsSerializer,
}


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="MilestoneDetails",
        serializers=list(_DETAILS_SERIALIZERS.values()),
        resource_type_field_name=None,
        many=False,
    )
)
class MilestoneDetailsField(serializers.Field):
    """The kind's own fields (a filing's agency and form, an IPO step's prices...); null for a
    generic milestone. Read from the child row joined by the selector: no extra query."""

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, allow_null=True, **kwargs)
        # One serializer per kind for the whole page: building a ModelSerializer's fields
        # costs far more than using them, so a new one per row would dominate a list.
        self._details: dict[str, serializers.Serializer] = {}

    def to_representation(self, milestone):
        details_class = _DETAILS_SERIALIZERS.get(milestone.kind)
        if details_class is None:
            return None
        if milestone.kind not in self._details:
            self._details[milestone.kind] = details_class()
        return self._details[milestone.kind].to_representation(milestone.typed())


_MILESTONE_EXAMPLE = {
    "id": 42,
    "kind": "ag_review",
    "process": 3,
    "organization": "openai",
    "title": "California AG review of the recapitalization",
    "status": "completed",
    "target_date": "2025-10-31",
    "actual_date": "2025-10-28",
    "source_url": "https://oag.ca.gov/news",
    "notes": "Memorandum of understanding with conditions.",
    "depends_on": [{"id": 40, "min_gap_days": 20}],
    "forecast_date": "2025-10-28",
    "at_risk": False,
    "at_risk_reason": "",
    "position": 4,
    "version": 3,
    "created_at": "2025-09-01T12:00:00Z",
    "updated_at": "2025-10-28T16:30:00Z",
    "details": {
        "authority": "ca_ag",
        "stage": "no_objection",
        "conditions": "Safety and security commitments; nonprofit control.",
        "decided_on": "2025-10-28",
    },
}


@extend_schema_serializer(
    examples=[OpenApiExample("An AG review", value=_MILESTONE_EXAMPLE, response_only=True)]
)
class MilestoneSerializer(_MilestoneBase):
    """A milestone of any kind. Writing here creates and changes generic milestones and the
    common fields of every kind; a kind's own fields are written at its typed resource."""

    details = MilestoneDetailsField()

    class Meta:
        model = Milestone
        fields = [*_COMMON_FIELDS, "details"]
        read_only_fields = _READ_ONLY_FIELDS


class FilingSerializer(_MilestoneBase):
    class Meta:
        model = Filing
        fields = _COMMON_FIELDS + FILING_FIELDS
        read_only_fields = _READ_ONLY_FIELDS
        # Accession numbers are unique when present; the service reports a clash as a 400.
        validators = []
        extra_kwargs = {"accession_number": {"validators": []}}


class AgReviewSerializer(_MilestoneBase):
    class Meta:
        model = AgReview
        fields = _COMMON_FIELDS + AG_REVIEW_FIELDS
        read_only_fields = _READ_ONLY_FIELDS


class IpoStepSerializer(_MilestoneBase):
    class Meta:
        model = IpoStep
        fields = _COMMON_FIELDS + IPO_STEP_FIELDS
        read_only_fields = _READ_ONLY_FIELDS
