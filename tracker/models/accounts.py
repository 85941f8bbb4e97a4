"""Subscribers' accounts: their own settings, and the invitations staff send."""

import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


@functools.cache
def time_zone_names() -> list[str]:
    """The IANA time zone names this machine's zone database knows, sorted. Read once per
    process: listing them walks the zone directories (about 17 ms)."""
    return sorted(zoneinfo.available_timezones())


def time_zone_validator(value: str) -> None:
    """An IANA time zone name that this machine's zone database knows ("Europe/Paris")."""
    if value not in time_zone_names():
        raise ValidationError(
            f"{value!r} is not a time zone name. Use an IANA name such as "
            "'Europe/Paris' or 'America/New_York'.",
            code="invalid_time_zone",
        )


class AccountProfile(models.Model):
    """What a user chooses for themselves; created on first change, so most users have none."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tracker_profile"
    )
    # Blank: the site's TIME_ZONE. Digests are built at ALERTS_DIGEST_HOUR in this zone and
    # emails show times in it.
    time_zone = models.CharField(max_length=64, blank=True, validators=[time_zone_validator])
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Settings of {self.user}"


class Invitation(models.Model):
    """A link staff send so that someone can create their own account; it works once and
    expires. Only a hash of the link's token is kept."""

    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(editable=False)
    accepted_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The account the invitation created.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Invitation for {self.email}"


def user_time_zone_chosen(user) -> str:
    """The IANA time zone the user chose, or "" when they chose none (the site's applies).

    Reads ``user.tracker_profile``, which the user object then keeps (an absent profile is
    remembered too): load it with ``select_related("tracker_profile")`` to spare the query.
    """
    try:
        return user.tracker_profile.time_zone
    except AccountProfile.DoesNotExist:
        return ""


def user_time_zone(user) -> zoneinfo.ZoneInfo:
    """The user's time zone, or the site's when they chose none (see
    ``user_time_zone_chosen``)."""
    return zoneinfo.ZoneInfo(user_time_zone_chosen(user) or settings.TIME_ZONE)
