"""Admin forms: optimistic locking and milestone dependencies."""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError

from tracker.models import Milestone, MilestoneDependency
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


class DependencyChoiceField(forms.ModelChoiceField):
    """Titles repeat across processes ("S-1 filed"), so each choice names where it lives."""

    def label_from_instance(self, milestone):
        process = milestone.process
        return f"{process.organization.name} / {process.title} / {milestone.title}"


class DependencyForm(forms.ModelForm):
    """One dependency of the milestone on the page, with its minimum gap."""

    # A search box (the milestone admin's search), not a <select> of every milestone on each
    # row: imports bring thousands. Only the chosen milestone is rendered, with its label.
    depends_on = DependencyChoiceField(
        queryset=Milestone.objects.select_related("process__organization"),
        widget=AutocompleteSelect(MilestoneDependency._meta.get_field("depends_on"), admin.site),
        label="Depends on",
        help_text="A milestone that must happen before this one (search by title, process or "
        "organization).",
    )

    class Meta:
        model = MilestoneDependency
        fields = ["depends_on", "min_gap_days"]


class DependencyFormSet(forms.BaseInlineFormSet):
    """The dependency set as a whole: not itself, no cycle (Django's unique check refuses a
    milestone named twice)."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        ids = []
        for form in self.forms:
            if self.can_delete and self._should_delete_form(form):
                continue
            depends_on = form.cleaned_data.get("depends_on")
            if depends_on is not None:
                ids.append(depends_on.pk)
        if self.instance.pk in ids:
            raise ValidationError("A milestone cannot depend on itself.")
        if would_create_cycle(self.instance, ids):
            raise ValidationError("These dependencies would form a cycle back to this milestone.")

    def dependencies(self):
        """``(milestone, min_gap_days)`` for each dependency left after the edit."""
        return [
            (form.cleaned_data["depends_on"], form.cleaned_data.get("min_gap_days") or 0)
            for form in self.forms
            if form.cleaned_data.get("depends_on") is not None
            and not (self.can_delete and self._should_delete_form(form))
        ]
