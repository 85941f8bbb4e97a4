"""Django's own user and group admins, plus what deactivating a user means for their alerts;
their deletes, like every admin delete, are refused from a stale page."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group

from tracker.services.alerts import deliveries_cancel_for_owner

from .stale import StaleDeleteGuardMixin

User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(Group)
class TrackerGroupAdmin(StaleDeleteGuardMixin, GroupAdmin):
    pass


@admin.register(User)
class TrackerUserAdmin(StaleDeleteGuardMixin, UserAdmin):
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            # Someone who left hears nothing more: what still waits to go to them is
            # cancelled now (and the sending side refuses anything it finds later).
            deliveries_cancel_for_owner(owner=obj)
