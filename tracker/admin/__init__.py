"""Admin registrations, one module per area."""

from . import alerts  # noqa: F401
from . import record  # noqa: F401
from . import tokens  # noqa: F401
