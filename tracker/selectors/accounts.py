"""Reads for subscribers' accounts: their time zone and invitations by link."""

import zoneinfo

from django.conf import settings
from django.utils import timezone

from tracker.models import AccountProfile, Invitation
from tracker.services.accounts import invitation_token_hash


def account_time_zone_name(*, user) -> str:
    """The user's chosen IANA time zone, or the site's TIME_ZONE when they chose none."""
    chosen = (
        AccountProfile.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first()
    )
    return chosen or settings.TIME_ZONE


def account_time_zone(*, user) -> zoneinfo.ZoneInfo:
    """The user's time zone as an object (see ``account_time_zone_name``)."""
    return zoneinfo.ZoneInfo(account_time_zone_name(user=user))


def invitation_usable(*, token: str) -> Invitation | None:
    """The invitation a link names while it can still be accepted (not used, not expired)."""
    return Invitation.objects.filter(
        token_hash=invitation_token_hash(token),
        accepted_at__isnull=True,
        expires_at__gt=timezone.now(),
    ).first()
