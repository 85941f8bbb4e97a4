"""Re-encrypting the secrets stored encrypted (tracker/encryption.py) with the first key of
FIELD_ENCRYPTION_KEY, so that older keys can be retired."""

from dataclasses import dataclass

from cryptography.fernet import InvalidToken
from django.db import transaction
from django.db.models import TextField
from django.db.models.functions import Cast

from tracker.encryption import fernet, primary_fernet
from tracker.models import WebhookEndpoint

_FIELDS = ("secret", "previous_secret")


class EncryptionKeyMissing(Exception):
    """A stored secret opens with none of the configured keys."""


@dataclass(frozen=True)
class ReencryptResult:
    reencrypted: int
    current: int


def secrets_reencrypt(*, batch_size: int = 500) -> ReencryptResult:
    """Re-encrypt every webhook signing secret not yet under the first key, in batches of
    ``batch_size`` rows, all in one transaction (a secret no key opens rolls everything
    back with EncryptionKeyMissing). Running it again re-encrypts nothing."""
    primary, every_key = primary_fernet(), fernet()
    reencrypted = current = 0
    last_pk = 0
    with transaction.atomic():
        while True:
            # The raw column (Cast skips the field's decryption) to tell which key made it.
            batch = list(
                WebhookEndpoint.objects.select_for_update()
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .annotate(**{f"raw_{name}": Cast(name, TextField()) for name in _FIELDS})
                .values_list("pk", *(f"raw_{name}" for name in _FIELDS))[:batch_size]
            )
            if not batch:
                break
            last_pk = batch[-1][0]
            for pk, *raw_values in batch:
                new_values = {}
                for name, raw in zip(_FIELDS, raw_values, strict=True):
                    if not raw or _opens_with(primary, raw):
                        continue
                    try:
                        new_values[name] = every_key.decrypt(raw.encode()).decode()
                    except InvalidToken as error:
                        raise EncryptionKeyMissing(
                            f"The {name.replace('_', ' ')} of webhook endpoint {pk} opens with "
                            "none of the keys in FIELD_ENCRYPTION_KEY: add the key it was "
                            "encrypted with (after the new one) and run this again. Nothing "
                            "was changed."
                        ) from error
                if new_values:
                    # The field encrypts the plaintext with the first key on the way in.
                    WebhookEndpoint.objects.filter(pk=pk).update(**new_values)
                    reencrypted += 1
                else:
                    current += 1
    return ReencryptResult(reencrypted=reencrypted, current=current)


def _opens_with(key, raw: str) -> bool:
    try:
        key.decrypt(raw.encode())
    except InvalidToken:
        return False
    return True
