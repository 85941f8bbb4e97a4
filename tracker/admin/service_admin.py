"""What every admin page that saves through a service shares."""

from django.core.exceptions import ValidationError
from django.db import models

from tracker.services.errors import ConcurrentUpdateError

from .stale import StaleDeleteGuardMixin


def adopt(target, saved) -> None:
    """Make the admin's in-memory object the row the service saved (for redirects, messages)."""
    for field in saved._meta.concrete_fields:
        setattr(target, field.attname, getattr(saved, field.attname))
    target._state.adding = False


class ServiceAdminMixin(StaleDeleteGuardMixin):
    """Turns a refusal raised by a service during save (a race the form could not see) into a
    message on the same page instead of a server error; the transaction has rolled back.
    Deletes from a stale page are refused (StaleDeleteGuardMixin); subclasses delete through
    their service in ``delete_checked``."""

    # A URL typed without a scheme is taken as https (Django 6's default; 5.2 warns).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (ConcurrentUpdateError, ValidationError) as error:
            return self._refused(request, error)
