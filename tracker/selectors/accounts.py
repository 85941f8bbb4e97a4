"""Reads for subscribers' accounts: their time zone and invitations by link."""

import zoneinfo

from django.conf import settings
from django.utils import timezone

from tracker.models import AccountProfile, Invitation
from tracker.services.accounts import invitation_token_hash


def account_time_zone_chosen(*, user) -> str:
    """The IANA time zone the user chose, or "" when they chose none (the site's applies)."""
    return (
        AccountProfile.objects.filter(user_id=user.pk).values_list("time_zone", flat=True).first()
        or ""
    )


def account_time_zone_name(*, user) -> str:
    """The user's time zone: the one they chose, else the site's TIME_ZONE."""
    return account_time_zone_chosen(user=user) or settings.TIME_ZONE


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
