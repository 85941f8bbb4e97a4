"""Encryption at rest for secrets the application must read back (webhook signing secrets).

Keys come from ``FIELD_ENCRYPTION_KEY``: Fernet keys, the first encrypting and all of them
decrypting, so a key is rotated by putting the new one first, running
``manage.py rotate_encryption_key`` and then dropping the old one. A database dump alone
holds only ciphertext: signing a webhook also needs the key from the environment.
"""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

__all__ = ["EncryptedTextField", "InvalidToken", "decrypt", "encrypt", "fernet", "primary_fernet"]


def _keys() -> tuple[str, ...]:
    keys = settings.FIELD_ENCRYPTION_KEY
    if isinstance(keys, str):
        keys = keys.split(",")
    keys = tuple(key.strip() for key in keys if key.strip())
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is empty: set at least one Fernet key.")
    return keys


@lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[MultiFernet, Fernet]:
    try:
        fernets = [Fernet(key) for key in keys]
    except ValueError as error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY holds a value that is not a Fernet key."
        ) from error
    return MultiFernet(fernets), fernets[0]


def fernet() -> MultiFernet:
    """Every configured key: encrypts with the first, decrypts with any."""
    return _fernets(_keys())[0]


def primary_fernet() -> Fernet:
    """The first key alone: what everything should be encrypted with."""
    return _fernets(_keys())[1]


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    """The plaintext of ``token``; InvalidToken when no configured key opens it."""
    return _decrypt(_keys(), token)


# A fan-out loads every endpoint it sends to, and a worker sends to the same endpoints
# again and again: a token is opened once per process (and per set of keys), not on every
# load. The plaintexts are in this process's memory while it signs with them anyway.
@lru_cache(maxsize=10_000)
def _decrypt(keys: tuple[str, ...], token: str) -> str:
    return _fernets(keys)[0].decrypt(token.encode("ascii")).decode()


class EncryptedTextField(models.TextField):
    """A text column holding a Fernet token; Python code sees the plaintext.

    Ciphertext differs on every save, so the column cannot be filtered on. An empty value
    stays empty (no secret, nothing to hide).
    """

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)
