from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_editors_group(sender, **kwargs):
    # Permissions only exist once contenttypes and auth have run their own post_migrate
    # handlers, which is why this is not a data migration.
    from tracker.permissions import editors_group_ensure

    editors_group_ensure()


class TrackerConfig(AppConfig):
    name = "tracker"
    verbose_name = "Milestone tracker"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.core import checks

        from tracker.sources.edgar.checks import edgar_user_agent_check

        post_migrate.connect(_ensure_editors_group, sender=self)
        checks.register(edgar_user_agent_check)
