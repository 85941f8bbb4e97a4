"""Admin for the record. Every save and delete goes through the services, so editors' changes
write events (and alerts) exactly like the API's."""

import json

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime

from tracker.models import (
    AgReview,
    EdgarSyncStatus,
    Event,
    Filing,
    IpoStep,
    Milestone,
    MilestoneDependency,
    Organization,
    Process,
)
from tracker.services.milestones import (
    KIND_FOR_MODEL,
    Dependency,
    milestone_create,
    milestone_delete,
    milestone_update,
)
from tracker.services.organizations import (
    organization_create,
    organization_delete,
    organization_update,
)
from tracker.services.processes import process_create, process_delete, process_update
from tracker.services.schedule import schedule_lock

from .forms import DependencyForm, DependencyFormSet, VersionedForm
from .service_admin import ServiceAdminMixin, adopt


def _model_data(form, instance) -> dict:
    """The cleaned values of the form's model fields (not extra fields like the version).

    A blank position is left out, so the service puts a new milestone at the end.
    """
    names = {f.name for f in instance._meta.concrete_fields if not f.primary_key}
    data = {name: value for name, value in form.cleaned_data.items() if name in names}
    if "position" in data and data["position"] is None:
        del data["position"]
    return data


def _changed_data(form, instance) -> dict:
    data = _model_data(form, instance)
    return {name: data[name] for name in form.changed_data if name in data}


class EventHistoryInline(admin.TabularInline):
    """The event log of the object on the page: when, who, what changed."""

    model = Event
    fk_name = "milestone"
    extra = 0
    can_delete = False
    ordering = ["-id"]
    fields = ["occurred_at", "type", "actor_name", "changed"]
    readonly_fields = fields
    verbose_name = "history entry"
    verbose_name_plural = "history (event log)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="what changed")
    def changed(self, event):
        if not event.changes:
            return "—"
        return format_html(
            "<code>{}</code>",
            "; ".join(
                f"{field}: {json.dumps(old)} → {json.dumps(new)}"
                for field, (old, new) in event.changes.items()
            ),
        )


class DependencyInline(admin.TabularInline):
    """What the milestone waits for, and how many days after each it can happen at the
    earliest. Saved by the milestone's service with the rest of the page."""

    model = MilestoneDependency
    fk_name = "milestone"
    form = DependencyForm
    formset = DependencyFormSet
    extra = 1
    verbose_name = "dependency"
    verbose_name_plural = "dependencies (minimum gap in days after each)"


class ProcessHistoryInline(EventHistoryInline):
    fk_name = "process"
    fields = ["occurred_at", "type", "milestone_title", "actor_name", "changed"]
    readonly_fields = fields

    @admin.display(description="milestone")
    def milestone_title(self, event):
        milestone = (event.snapshot or {}).get("milestone")
        return milestone["title"] if milestone else "—"


class OrganizationHistoryInline(EventHistoryInline):
    """The organization's own events; its processes' and milestones' are on their pages."""

    fk_name = "organization"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(process__isnull=True)


@admin.register(Organization)
class OrganizationAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = VersionedForm
    list_display = ["name", "slug", "cik", "ticker", "state_of_incorporation", "follow_edgar"]
    list_filter = ["follow_edgar"]
    search_fields = ["name", "slug", "cik", "ticker"]
    prepopulated_fields = {"slug": ["name"]}
    fields = [
        "name",
        "slug",
        "cik",
        "ticker",
        "state_of_incorporation",
        "website",
        "follow_edgar",
        "edgar_sync_state",
        "loaded_version",
    ]
    readonly_fields = ["edgar_sync_state"]

    def get_inlines(self, request, obj):
        # A new organization has no history yet (and its form posts no inline data).
        return [OrganizationHistoryInline] if obj is not None else []

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("edgar_sync")

    @admin.display(description="EDGAR sync")
    def edgar_sync_state(self, organization):
        """The importer's last sync, read-only: when, what it found, why it failed."""
        state = getattr(organization, "edgar_sync", None) if organization.pk else None
        if state is None:
            return "Never synced."
        lines = [
            f"Last checked: {_when(state.checked_at)}" if state.checked_at else "",
            f"Last changed: {_when(state.synced_at)}"
            if state.synced_at
            else "Never synced successfully.",
            state.summary,
        ]
        if state.status == EdgarSyncStatus.FAILED:
            lines.append(f"Last sync failed ({_when(state.failed_at)}): {state.error}")
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines if line))

    def save_model(self, request, obj, form, change):
        if change:
            saved = organization_update(
                actor=request.user,
                organization=obj,
                data=_changed_data(form, obj),
                expected_version=form.cleaned_data.get("loaded_version"),
            )
        else:
            saved = organization_create(actor=request.user, data=_model_data(form, obj))
        adopt(obj, saved)

    def delete_checked(self, request, obj):
        organization_delete(actor=request.user, organization=obj)


class MilestoneInline(admin.TabularInline):
    """The process's milestones in order; typed details are edited on each kind's own page."""

    model = Milestone
    form = VersionedForm
    extra = 0
    ordering = ["position", "target_date", "id"]
    fields = [
        "position",
        "title",
        "kind",
        "status",
        "target_date",
        "actual_date",
        "details",
        "loaded_version",
    ]
    readonly_fields = ["kind", "details"]
    show_change_link = False

    @admin.display(description="edit")
    def details(self, milestone):
        if not milestone.pk:
            return "—"
        model = {k: m for m, k in KIND_FOR_MODEL.items()}[milestone.kind]
        url = reverse(f"admin:tracker_{model._meta.model_name}_change", args=[milestone.pk])
        return format_html('<a href="{}">{} details</a>', url, model._meta.verbose_name)


@admin.register(Process)
class ProcessAdmin(ServiceAdminMixin, admin.ModelAdmin):
    form = VersionedForm
    list_display = ["title", "organization", "kind", "status", "updated_at"]
    list_filter = ["organization", "kind", "status"]
    search_fields = ["title", "summary", "organization__name"]
    list_select_related = ["organization"]
    prepopulated_fields = {"slug": ["title"]}
    fields = ["organization", "kind", "title", "slug", "status", "summary", "loaded_version"]
    inlines = [MilestoneInline, ProcessHistoryInline]

    def save_model(self, request, obj, form, change):
        # The milestone inline is saved next in this transaction: the schedule lock comes
        # before the process row's (the order every milestone write takes them in).
        schedule_lock()
        if change:
            saved = process_update(
                actor=request.user,
                process=obj,
                data=_changed_data(form, obj),
                expected_version=form.cleaned_data.get("loaded_version"),
            )
        else:
            saved = process_create(actor=request.user, data=_model_data(form, obj))
        adopt(obj, saved)

    def save_formset(self, request, form, formset, change):
        if formset.model is not Milestone:
            formset.save(commit=False)  # the read-only history: nothing to write
            return
        process = form.instance
        # The admin builds its change message from these lists.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for inline_form in formset.forms:
            milestone = inline_form.instance
            if formset.can_delete and formset._should_delete_form(inline_form):
                if milestone.pk:
                    milestone_delete(
                        actor=request.user,
                        milestone=milestone,
                        expected_version=inline_form.cleaned_data.get("loaded_version"),
                    )
                    formset.deleted_objects.append(milestone)
            elif not milestone.pk:
                if inline_form.has_changed():
                    data = _model_data(inline_form, milestone)
                    data["process"] = process
                    created = milestone_create(actor=request.user, data=data)
                    formset.new_objects.append(created)
            elif inline_form.has_changed():
                changed = _changed_data(inline_form, milestone)
                milestone_update(
                    actor=request.user,
                    milestone=milestone,
                    data=changed,
                    expected_version=inline_form.cleaned_data.get("loaded_version"),
                )
                formset.changed_objects.append((milestone, list(changed)))

    def get_deleted_objects(self, objs, request):
        # Milestone.process is PROTECT so that nothing deletes milestones without their
        # events; process_delete removes them through the services, so here they are part of
        # what gets deleted rather than something that blocks the deletion.
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        milestones = list(Milestone.objects.filter(process__in=objs))
        if milestones:
            protected = []
            to_delete.append([f"Milestone: {milestone}" for milestone in milestones])
            model_count[Milestone._meta.verbose_name_plural] = len(milestones)
            if not request.user.has_perm("tracker.delete_milestone"):
                perms_needed.add(Milestone._meta.verbose_name)
        return to_delete, model_count, perms_needed, protected

    def delete_checked(self, request, obj):
        process_delete(actor=request.user, process=obj)


class BaseMilestoneAdmin(ServiceAdminMixin, admin.ModelAdmin):
    """Shared by the generic milestone page and the typed pages."""

    # The version check; dependencies are the inline below it.
    form = VersionedForm
    list_display = [
        "title",
        "process",
        "kind",
        "status",
        "target_date",
        "forecast_date",
        "actual_date",
        "risk",
    ]
    list_filter = [
        ("process__organization", admin.RelatedOnlyFieldListFilter),
        ("process", admin.RelatedOnlyFieldListFilter),
        "status",
        "at_risk",
        ("target_date", admin.DateFieldListFilter),
    ]
    list_select_related = ["process__organization"]
    search_fields = ["title", "notes"]
    date_hierarchy = "target_date"
    ordering = ["process__organization__name", "process__title", "position"]
    common_fields = [
        "process",
        "title",
        "status",
        "target_date",
        "actual_date",
        "position",
        "source_url",
        "notes",
        "loaded_version",
    ]
    schedule_fields = ["forecast_date", "at_risk", "at_risk_reason"]
    readonly_fields = schedule_fields
    typed_fields: list[str] = []
    inlines = [DependencyInline, EventHistoryInline]

    def get_fieldsets(self, request, obj=None):
        fieldsets = [(None, {"fields": self.common_fields})]
        if self.typed_fields:
            fieldsets.append(
                (self.model._meta.verbose_name.capitalize(), {"fields": self.typed_fields})
            )
        if obj is not None:
            fieldsets.append(("Schedule (computed)", {"fields": self.schedule_fields}))
        return fieldsets

    @admin.display(description="at risk", boolean=False, ordering="at_risk")
    def risk(self, milestone):
        if not milestone.at_risk:
            return "—"
        return format_html('<span title="{}">⚠ at risk</span>', milestone.at_risk_reason)

    def save_model(self, request, obj, form, change):
        # Saved in save_related, once the dependency inline is available: the milestone and
        # its dependencies are one service call, so one transaction and one set of events.
        pass

    def save_related(self, request, form, formsets, change):
        obj = form.instance
        dependency_formset = next(f for f in formsets if f.model is MilestoneDependency)
        dependencies = [Dependency(m, gap) for m, gap in dependency_formset.dependencies()]
        if change:
            saved = milestone_update(
                actor=request.user,
                milestone=obj,
                data=_changed_data(form, obj),
                depends_on=dependencies,
                expected_version=form.cleaned_data.get("loaded_version"),
            )
        else:
            saved = milestone_create(
                actor=request.user,
                kind=KIND_FOR_MODEL[self.model],
                data=_model_data(form, obj),
                depends_on=dependencies,
            )
        adopt(obj, saved)
        # The admin builds its change message from these lists; the event log has the rest.
        for formset in formsets:
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []

    def delete_checked(self, request, obj):
        milestone_delete(actor=request.user, milestone=obj)


@admin.register(Milestone)
class MilestoneAdmin(BaseMilestoneAdmin):
    """Every milestone in one list; generic ones (board approvals, signed agreements) are
    added and edited here, typed ones on their own pages."""

    list_filter = [*BaseMilestoneAdmin.list_filter, "kind"]
    # Also what the dependency inline's search box searches: titles repeat across processes.
    search_fields = [
        "title",
        "notes",
        "filing__form_type",
        "filing__accession_number",
        "process__title",
        "process__organization__name",
    ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        milestone = self.get_object(request, object_id)
        if milestone is not None and type(milestone.typed()) is not Milestone:
            model = type(milestone.typed())
            return HttpResponseRedirect(
                reverse(f"admin:tracker_{model._meta.model_name}_change", args=[milestone.pk])
            )
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(Filing)
class FilingAdmin(BaseMilestoneAdmin):
    list_display = [
        *BaseMilestoneAdmin.list_display[:2],
        "agency",
        "form_type",
        "accession_number",
        "status",
        "filed_on",
        "risk",
    ]
    list_filter = [*BaseMilestoneAdmin.list_filter, "agency", "form_type"]
    search_fields = ["title", "notes", "form_type", "accession_number"]
    typed_fields = ["agency", "form_type", "accession_number", "filed_on", "document_url"]


@admin.register(AgReview)
class AgReviewAdmin(BaseMilestoneAdmin):
    list_display = [
        *BaseMilestoneAdmin.list_display[:2],
        "authority",
        "stage",
        "status",
        "decided_on",
        "risk",
    ]
    list_filter = [*BaseMilestoneAdmin.list_filter, "authority", "stage"]
    search_fields = ["title", "notes", "conditions"]
    typed_fields = ["authority", "stage", "conditions", "decided_on"]


@admin.register(IpoStep)
class IpoStepAdmin(BaseMilestoneAdmin):
    list_display = [
        *BaseMilestoneAdmin.list_display[:2],
        "step",
        "exchange",
        "ticker",
        "status",
        "target_date",
        "risk",
    ]
    list_filter = [*BaseMilestoneAdmin.list_filter, "step"]
    search_fields = ["title", "notes", "ticker", "exchange"]
    typed_fields = [
        "step",
        "exchange",
        "ticker",
        "price_range_low",
        "price_range_high",
        "offer_price",
        "shares_offered",
    ]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The event log, read-only: it is written by the services alone."""

    list_display = [
        "id",
        "sequence",
        "occurred_at",
        "type",
        "actor_name",
        "organization_id",
        "process_id",
        "milestone_id",
        "dispatched_at",
    ]
    list_filter = ["type", ("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["uuid", "actor_name", "dedupe_key"]
    readonly_fields = [f.name for f in Event._meta.fields]
    ordering = ["-id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _when(moment) -> str:
    return date_format(localtime(moment), "DATETIME_FORMAT")
