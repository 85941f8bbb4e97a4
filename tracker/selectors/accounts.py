"""Reads for subscribers' accounts: their time zone and invitations by link."""

from django.conf import settings
from django.utils import timezone

from tracker.models import AccountProfile, Invitation
from tracker.services.tokens import api_key_hash


def account_time_zone_name(*, user) -> str:
    """The user's time zone: the one they chose, else the site's TIME_ZONE (read from the
    database, not from what ``user`` may have cached)."""
    chosen = AccountProfile.objects.filter(user_id=user.pk).values_list("time_zone", flat=True)
    return chosen.first() or settings.TIME_ZONE


def invitation_usable(*, token: str) -> Invitation | None:
    """The invitation a link names while it can still be accepted (not used, not expired)."""
    return Invitation.objects.filter(
        token_hash=api_key_hash(token),
        accepted_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).first()
