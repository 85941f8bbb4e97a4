"""Admin registrations, one module per area."""

from . import (
    accounts,  # noqa: F401
    alerts,  # noqa: F401
    record,  # noqa: F401
    tokens,  # noqa: F401
    users,  # noqa: F401
)
