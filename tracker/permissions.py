"""The "editors" group: who may change the record (admin and API alike)."""

from django.contrib.auth.models import Group, Permission
from django.db import transaction

EDITORS_GROUP = "editors"

# Editors keep the record true; they read the event log but never write it directly.
_EDITOR_MODELS = (
    "organization",
    "process",
    "milestone",
    "milestonedependency",
    "filing",
    "agreview",
    "ipostep",
)


def editors_group_ensure() -> Group:
    """Create the editors group if needed and give it exactly the record's permissions."""
    codenames = [
        f"{action}_{model}"
        for model in _EDITOR_MODELS
        for action in ("add", "change", "delete", "view")
    ] + ["view_event"]
    with transaction.atomic():
        group, _ = Group.objects.get_or_create(name=EDITORS_GROUP)
        group.permissions.set(
            Permission.objects.filter(content_type__app_label="tracker", codename__in=codenames)
        )
    return group
