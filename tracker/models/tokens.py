from django.conf import settings
from django.db import models


class TokenScope(models.TextChoices):
    READ = "read", "Read only"
    WRITE = "write", "Read and write"


class ApiToken(models.Model):
    """A named API key. Only its SHA-256 hash is stored; the key is shown once, at creation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    # The first characters of the key, kept in clear so people can tell their keys apart.
    prefix = models.CharField(max_length=12, db_index=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    # Chosen at creation: a read-only key gets 403 on every write, whatever its user may do.
    scope = models.CharField(max_length=8, choices=TokenScope.choices)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Leave empty for a key that does not expire."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def is_expired(self, now) -> bool:
        return self.expires_at is not None and self.expires_at <= now
