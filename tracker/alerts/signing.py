"""Standard Webhooks secrets and signatures (https://www.standardwebhooks.com/)."""

import base64
import datetime
import secrets

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
# The spec asks for 24 to 64 random bytes; 32 matches the HMAC-SHA256 block of work.
_SECRET_BYTES = 32


def secret_generate() -> str:
    """A new signing secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def signature_header(
    *, secrets_in_use: list[str], message_id: str, timestamp: datetime.datetime, body: str
) -> str:
    """The ``webhook-signature`` value: one ``v1,<base64>`` per secret, space separated.

    During a rotation's grace period two secrets sign, so a receiver that still holds the old
    one (or already the new one) verifies either way.
    """
    return " ".join(
        Webhook(secret).sign(msg_id=message_id, timestamp=timestamp, data=body)
        for secret in secrets_in_use
    )
