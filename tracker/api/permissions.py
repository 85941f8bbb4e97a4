"""Who may do what: the record is read by anyone allowed to read and written by editors;
alerts resources belong to their owner (the views filter by owner, so others get 404)."""

from django.conf import settings
from rest_framework import permissions


def _public_read() -> bool:
    return settings.TRACKER_PUBLIC_READ


class RecordPermission(permissions.DjangoModelPermissions):
    """Reads: any authenticated user, and anonymous callers while ``TRACKER_PUBLIC_READ`` is
    on. Writes: the Django model permissions of the viewed model (the "editors" group)."""

    def has_permission(self, request, view):
        if request.method in permissions.SAFE_METHODS:
            return _public_read() or bool(request.user and request.user.is_authenticated)
        return super().has_permission(request, view)


class ReadPermission(permissions.BasePermission):
    """Read-only resources (the event feed): like RecordPermission's reads."""

    def has_permission(self, request, view):
        return _public_read() or bool(request.user and request.user.is_authenticated)
