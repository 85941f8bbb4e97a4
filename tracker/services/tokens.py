"""API tokens: creation (the key is returned once), revocation and the lookup used by the API's
authentication. Only the SHA-256 of a key is stored, so a leaked table does not leak keys."""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tracker.models import ApiToken

# Recognisable in logs and secret scanners; the rest is 256 bits of randomness.
KEY_PREFIX = "mt_"
_PREFIX_LENGTH = 12
# Writing last_used_at on every request would turn each read into a write; a minute's
# precision is enough to tell a live key from a forgotten one.
_LAST_USED_PRECISION = timedelta(minutes=1)


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiTokenExpired(Exception):
    """The key is right but its expiry date has passed."""

    def __init__(self, token: ApiToken):
        self.token = token
        super().__init__(
            f"This API key expired at {token.expires_at:%Y-%m-%d %H:%M} UTC. "
            "Create a new key (admin, API tokens)."
        )


def api_token_create(
    *,
    user: AbstractBaseUser,
    name: str,
    scope: str,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a named token for ``user`` with ``scope`` (TokenScope: read or write) and an
    optional expiry; returns the row and the raw key (shown once).

    Raises ValidationError when the name is empty or too long, the scope unknown, or the
    expiry already past.
    """
    name = (name or "").strip()
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user=user,
        name=name,
        scope=scope,
        expires_at=expires_at,
        prefix=raw_key[:_PREFIX_LENGTH],
        key_hash=api_key_hash(raw_key),
    )
    token.full_clean()
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    with transaction.atomic():
        token.save()
    return token, raw_key


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token for good; revoking twice keeps the first revocation time."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    token.refresh_from_db(fields=["revoked_at"])
    return token


def api_token_authenticate(*, raw_key: str) -> ApiToken | None:
    """The active token for ``raw_key`` (with its user), or None; notes when it was used.

    A revoked token or an inactive user's token authenticates nobody; an expired one raises
    ApiTokenExpired, so the caller can say why.
    """
    if not raw_key.startswith(KEY_PREFIX) or len(raw_key) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=api_key_hash(raw_key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.is_expired(now):
        raise ApiTokenExpired(token)
    if token.last_used_at is None or now - token.last_used_at >= _LAST_USED_PRECISION:
        # Conditional, so concurrent requests with one key write at most once per minute.
        ApiToken.objects.filter(pk=token.pk).exclude(
            last_used_at__gt=now - _LAST_USED_PRECISION
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
