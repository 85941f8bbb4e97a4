"""No admin delete from a stale page: the confirmation page carries a fingerprint of each row
it lists (its version, or a hash of its fields for models without one), and the delete is
refused, with nothing deleted, when a row no longer matches it.

The record's edits are guarded the same way by VersionedForm (tracker/admin/forms.py).
"""

import hashlib
import json

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import router, transaction
from django.http import HttpResponseRedirect

from tracker.services.errors import ConcurrentUpdateError

LOADED_FIELD = "loaded_fingerprint"
STALE_DELETE_MESSAGE = (
    "“{row}” was changed by someone else after you opened the confirmation page, so nothing "
    "was deleted. Look at the change, then delete again if you still want to."
)


def row_fingerprint(obj) -> str:
    """What a row looked like: its optimistic-locking version when it has one (raised by
    every edit, not by bookkeeping such as delivery counters), else a hash of its fields."""
    try:
        obj._meta.get_field("version")
    except FieldDoesNotExist:
        values = [field.value_to_string(obj) for field in obj._meta.concrete_fields]
        return hashlib.sha256(json.dumps(values).encode()).hexdigest()[:32]
    return f"v{obj.version}"


def loaded_field_name(obj) -> str:
    return f"{LOADED_FIELD}_{obj.pk}"


class StaleDeleteGuardMixin:
    """For a ModelAdmin: single and bulk deletes refuse rows changed since their confirmation
    page was loaded. Subclasses delete in ``delete_checked`` (default: Django's delete)."""

    delete_confirmation_template = "admin/tracker/delete_confirmation.html"
    delete_selected_confirmation_template = "admin/tracker/delete_selected_confirmation.html"

    def delete_model(self, request, obj):
        self.refuse_stale_delete(request, obj)
        self.delete_checked(request, obj)

    def delete_checked(self, request, obj):
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # One transaction: a stale row met half-way deletes none of the others.
        with transaction.atomic(using=router.db_for_write(self.model)):
            for obj in queryset:
                self.delete_model(request, obj)

    def refuse_stale_delete(self, request, obj) -> None:
        """Lock the row (until the transaction ends) and compare it with the page's copy."""
        loaded = request.POST.get(loaded_field_name(obj))
        if loaded is None:
            return  # not posted from a confirmation page that carries fingerprints
        current = type(obj)._default_manager.select_for_update().filter(pk=obj.pk).first()
        if current is None or row_fingerprint(current) != loaded:
            raise ValidationError(STALE_DELETE_MESSAGE.format(row=obj), code="stale_delete")

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except (ConcurrentUpdateError, ValidationError) as error:
            return self._refused(request, error)

    def changelist_view(self, request, extra_context=None):
        if request.method != "POST" or "action" not in request.POST:
            return super().changelist_view(request, extra_context)
        # An action (the bulk delete above all) is all or nothing, its admin log included.
        try:
            with transaction.atomic(using=router.db_for_write(self.model)):
                return super().changelist_view(request, extra_context)
        except (ConcurrentUpdateError, ValidationError) as error:
            return self._refused(request, error)

    def _refused(self, request, error):
        text = error.messages if isinstance(error, ValidationError) else [str(error)]
        for line in text:
            self.message_user(request, line, level=messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())
