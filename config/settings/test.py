"""Tests: real PostgreSQL and Redis on 127.0.0.1 unless DATABASE_URL / REDIS_URL say otherwise."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = "test-secret-key-not-used-anywhere-else"
DEBUG = False
ALLOWED_HOSTS = ["*"]
# A fixed Fernet key for the tests (tests of rotation add their own).
FIELD_ENCRYPTION_KEY = ["dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5LTE="]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/test")}
# Serve static files from the apps' folders: tests never run collectstatic.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# --- Alerts ------------------------------------------------------------------------------
# Short waits so retries, timeouts and reclaims happen within a test's time budget.
WEBHOOK_CONNECT_TIMEOUT = 1.0
WEBHOOK_TOTAL_TIMEOUT = 2.0
EMAIL_TOTAL_TIMEOUT = 2.0
# The third step is long so that a test can tell a retry on the 1 s step from a later one.
WEBHOOK_RETRY_SCHEDULE = [0, 1, 10]
WEBHOOK_RETRY_JITTER = 0.0
ALERTS_RECLAIM_MARGIN = 1.0
ALERTS_SWEEP_REQUEUE_GRACE = 0.5
ALERTS_SWEEP_INTERVAL = 0.5
CELERY_BEAT_SCHEDULE = {
    "alerts-sweep": {
        "task": "tracker.tasks.alerts_sweep",
        "schedule": ALERTS_SWEEP_INTERVAL,
        # Longer than the interval: a worker slowed by a busy test machine still sweeps.
        "options": {"expires": 5.0},
    },
}
# The local receivers of the tests listen on 127.0.0.1 over plain http.
WEBHOOK_ALLOW_HTTP = True
WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
# ... and stand in for Slack and Teams (the URL shapes are tested with the real hosts).
ALERTS_CHAT_ALLOWED_HOSTS = ["127.0.0.1"]
# The end-to-end tests start a worker that mails a local aiosmtpd server.
if env("ALERTS_TEST_EMAIL_URL", default=""):
    vars().update(env.email_url("ALERTS_TEST_EMAIL_URL"))

# --- EDGAR -------------------------------------------------------------------------------
# Tests serve EDGAR from local servers (pytest-httpserver) and point these settings at them.
EDGAR_USER_AGENT = "Milestone Tracker tests tests@example.com"
EDGAR_CONNECT_TIMEOUT = 1.0
EDGAR_READ_TIMEOUT = 1.0
EDGAR_BLOCKED_PAUSE = 1.0
