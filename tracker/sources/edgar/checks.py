"""A system check: organizations follow EDGAR but nothing may be fetched for them."""

from django.conf import settings
from django.core.checks import Warning
from django.db import DatabaseError

from tracker.models import Organization

from .client import MISSING_USER_AGENT


def edgar_user_agent_check(app_configs=None, **kwargs) -> list[Warning]:
    """Warn when an organization follows EDGAR and EDGAR_USER_AGENT is empty: every sync
    and feed poll would be skipped (the beat tasks log it at ERROR, once a round)."""
    if settings.EDGAR_USER_AGENT.strip():
        return []
    try:
        following = Organization.objects.filter(follow_edgar=True).exists()
    except DatabaseError:  # not migrated yet, or no database: nothing follows EDGAR then
        return []
    if not following:
        return []
    return [
        Warning(
            "Organizations follow EDGAR but EDGAR_USER_AGENT is empty, so nothing is synced.",
            hint=MISSING_USER_AGENT,
            id="tracker.W001",
        )
    ]
