"""Admin forms: optimistic locking and milestone dependencies."""

from django import forms
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.core.exceptions import ValidationError

from tracker.models import Milestone
from tracker.services.milestones import would_create_cycle

STALE_MESSAGE = (
    "Someone else saved this {label} after you opened it (you edited version {loaded}; it is "
    "now at version {current}). Reload the page to see their change, then apply yours again."
)


class VersionedForm(forms.ModelForm):
    """Carries the version the editor loaded, so a save from a stale page is refused."""

    loaded_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["loaded_version"].initial = self.instance.version
        if "position" in self.fields:
            # Left blank, a new milestone goes to the end of its process.
            self.fields["position"].required = False
            if not self.instance.pk:
                self.initial.pop("position", None)
                self.fields["position"].initial = None

    def clean(self):
        cleaned = super().clean()
        loaded = cleaned.get("loaded_version")
        if self.instance.pk and loaded is not None and loaded != self.instance.version:
            raise ValidationError(
                STALE_MESSAGE.format(
                    label=self.instance._meta.verbose_name,
                    loaded=loaded,
                    current=self.instance.version,
                ),
                code="stale_version",
            )
        return cleaned


class DependencyChoiceField(forms.ModelMultipleChoiceField):
    """Titles repeat across processes ("S-1 filed"), so each choice names where it lives."""

    def label_from_instance(self, milestone):
        process = milestone.process
        return f"{process.organization.name} / {process.title} / {milestone.title}"


class MilestoneForm(VersionedForm):
    """Every milestone form: the version check plus the dependency set (a through model, so
    Django's admin cannot edit it directly)."""

    dependencies = DependencyChoiceField(
        queryset=Milestone.objects.select_related("process__organization").order_by(
            "process__organization__name", "process__title", "position"
        ),
        required=False,
        widget=FilteredSelectMultiple("milestones", is_stacked=False),
        help_text="Milestones that must happen before this one.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["dependencies"].initial = list(
                self.instance.depends_on.values_list("pk", flat=True)
            )
            self.fields["dependencies"].queryset = self.fields["dependencies"].queryset.exclude(
                pk=self.instance.pk
            )

    def clean_dependencies(self):
        dependencies = self.cleaned_data["dependencies"]
        ids = {d.pk for d in dependencies}
        if self.instance.pk in ids:
            raise ValidationError("A milestone cannot depend on itself.")
        if would_create_cycle(self.instance, ids):
            raise ValidationError("These dependencies would form a cycle back to this milestone.")
        return dependencies
