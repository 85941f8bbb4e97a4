"""A process's schedule: its milestones against their forecasts, and its critical path."""

from rest_framework import serializers


class ScheduleLinkSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="depends_on_id")
    min_gap_days = serializers.IntegerField()


class ScheduleEntrySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="milestone.pk")
    title = serializers.CharField(source="milestone.title")
    kind = serializers.CharField(source="milestone.kind")
    status = serializers.CharField(source="milestone.status")
    position = serializers.IntegerField(source="milestone.position")
    target_date = serializers.DateField(source="milestone.target_date", allow_null=True)
    forecast_date = serializers.DateField(
        source="milestone.forecast_date",
        allow_null=True,
        help_text="The actual date once it happened; else the later of the target date and "
        "each dependency's forecast plus its minimum gap. Null when cancelled or undated.",
    )
    actual_date = serializers.DateField(source="milestone.actual_date", allow_null=True)
    slip_days = serializers.IntegerField(
        allow_null=True, help_text="Forecast minus target date in days; positive is late."
    )
    at_risk = serializers.BooleanField(source="milestone.at_risk")
    at_risk_reason = serializers.CharField(source="milestone.at_risk_reason")
    critical = serializers.BooleanField(
        help_text="On the chain of milestones that decides the process's last forecast date."
    )
    depends_on = ScheduleLinkSerializer(source="links", many=True)


class ScheduleSerializer(serializers.Serializer):
    process = serializers.IntegerField(source="process.pk")
    end_date = serializers.DateField(
        allow_null=True, help_text="The latest forecast date of the process's milestones."
    )
    critical_path = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Milestone ids from the start of the critical path to the milestone that "
        "ends the process. The first may belong to another process, when that is what holds "
        "this one back.",
    )
    milestones = ScheduleEntrySerializer(source="entries", many=True)
