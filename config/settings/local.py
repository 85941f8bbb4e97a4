"""The one-command demo: SQLite and kombu's filesystem broker under var/, email to the console.

DATABASE_URL and REDIS_URL (or CELERY_BROKER_URL) still win when they are set.
"""

import os

from .base import *  # noqa: F403
from .base import VAR_DIR, env

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="demo-only-secret-key-not-for-production")
# Demo only: production requires its own key from the environment.
FIELD_ENCRYPTION_KEY = env.list(
    "FIELD_ENCRYPTION_KEY", default=["ZGVtby1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5LTA="]
)

VAR_DIR.mkdir(exist_ok=True)

if "DATABASE_URL" not in os.environ:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "tracker.sqlite3",
            # Web and worker write to one file at once: take the write lock when a
            # transaction begins instead of failing mid-way with "database is locked".
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

if "REDIS_URL" not in os.environ and "CELERY_BROKER_URL" not in os.environ:
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("out", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "control_folder": str(_broker_dir / "control"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }

if "EMAIL_URL" not in os.environ:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"

# The demo's webhook receivers run on this machine.
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=True)
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=["127.0.0.1/32", "::1/128"])

# --- API (tracker/api) -------------------------------------------------------------------
# Without Redis the throttle counters stay in each web process.
if "REDIS_URL" not in os.environ and "API_THROTTLE_CACHE_URL" not in os.environ:
    API_THROTTLE_CACHE_URL = "locmemcache://"
