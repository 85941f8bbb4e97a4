"""Writes to subscribers' accounts: invitations and their own settings.

Each public function is one transaction; bad input raises Django's ValidationError.
"""

import datetime
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from tracker.models import AccountProfile, Invitation

from .tokens import api_key_hash

INVITATION_UNUSABLE = (
    "This invitation link cannot be used: it has expired or has already been used. "
    "Ask the person who invited you for a new one."
)


def _new_link() -> tuple[str, str, datetime.datetime]:
    """A fresh invitation link: its token, what is stored of it (the SHA-256, as of API
    keys, so a database leak gives no working links) and when it expires."""
    token = secrets.token_urlsafe(32)
    expires_at = timezone.now() + datetime.timedelta(days=settings.ACCOUNTS_INVITATION_DAYS)
    return token, api_key_hash(token), expires_at


def invitation_create(*, email: str, invited_by) -> tuple[Invitation, str]:
    """Invite ``email`` to create an account; returns the invitation and the token of its
    link (only its hash is stored: the link can be shown or sent only now).

    Refused when an account already has that address: that person can reset a password.
    """
    email = (email or "").strip()
    validate_email(email)
    User = get_user_model()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(
            {"email": "An account with this address exists; they can reset their password."}
        )
    token, token_hash, expires_at = _new_link()
    invitation = Invitation(
        email=email, token_hash=token_hash, invited_by=invited_by, expires_at=expires_at
    )
    with transaction.atomic():
        invitation.full_clean()
        invitation.save()
    return invitation, token


def invitation_renew(*, invitation: Invitation) -> tuple[Invitation, str]:
    """Issue a fresh link for an invitation not yet accepted (the old link stops working)
    and start its validity again; returns it with the new token."""
    token, token_hash, expires_at = _new_link()
    with transaction.atomic():
        current = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if current.accepted_at is not None:
            raise ValidationError("This invitation was already accepted.")
        current.token_hash, current.expires_at = token_hash, expires_at
        current.save(update_fields=["token_hash", "expires_at"])
    return current, token


def invitation_accept(*, token: str, username: str, password: str):
    """Create the invited account (a subscriber: never staff) with the invitation's address
    and the chosen username and password; the link works once.

    The invitation is locked while the account is made, so two submissions of one link
    create one account.
    """
    User = get_user_model()
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update().filter(token_hash=api_key_hash(token)).first()
        )
        if (
            invitation is None
            or invitation.accepted_at is not None
            or invitation.expires_at <= timezone.now()
        ):
            raise ValidationError(INVITATION_UNUSABLE, code="invitation_unusable")
        if User.objects.filter(username__iexact=username).exists():
            raise ValidationError({"username": "This username is taken; choose another."})
        user = User(username=username, email=invitation.email, is_staff=False)
        validate_password(password, user)
        user.set_password(password)
        user.full_clean()
        user.save()
        invitation.accepted_at = timezone.now()
        invitation.user = user
        invitation.save(update_fields=["accepted_at", "user"])
    return user


def account_time_zone_update(*, user, time_zone: str) -> AccountProfile:
    """Set the user's time zone (an IANA name; blank for the site's). Digests are built at
    the digest hour in it, and emails show times in it."""
    with transaction.atomic():
        profile, _ = AccountProfile.objects.select_for_update().get_or_create(user=user)
        profile.time_zone = (time_zone or "").strip()
        profile.full_clean()
        profile.save()
    return profile
