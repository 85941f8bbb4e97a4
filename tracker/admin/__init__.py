"""Admin registrations, one module per area."""

from . import (
    alerts,  # noqa: F401
    record,  # noqa: F401
    tokens,  # noqa: F401
    users,  # noqa: F401
)
