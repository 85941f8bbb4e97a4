"""Settings shared by every environment; each value can be set from the environment.

The per-environment modules (``local``, ``test``, ``production``) import everything from here
and change only what differs.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from config.observability import logging_config, sentry_init

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Each environment module sets SECRET_KEY; production requires it from the environment.
SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Absolute base for links that leave the site (unsubscribe links in email, feed links).
SITE_URL = env("SITE_URL", default="http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "tracker",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/root")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "tracker" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Subscribers and editors sign in on the site's own page (tracker/web/account_urls.py).
LOGIN_URL = "login"

# --- Email -------------------------------------------------------------------------------
# EMAIL_URL, e.g. smtp://user:pass@mail.example.com:587/?tls=True or consolemail://
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Milestone Tracker <alerts@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# A stalled SMTP server must fail the attempt (to be retried) rather than hold a sender
# thread past the claim timeout, after which the sweep would send the mail a second time.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
# The total time one SMTP session of alert email may take, whatever the server does (a
# tarpit answering a byte at a time); kept below the claim timeout, so mail that is slow to
# go out is never claimed and sent again by another worker meanwhile.
EMAIL_TOTAL_TIMEOUT = env.float("EMAIL_TOTAL_TIMEOUT", default=15.0)

# --- Celery ------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:6379/0")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_BROKER_TRANSPORT_OPTIONS = {}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# A broker that is down must not hang the request that committed a change: the outbox
# sweep delivers what could not be queued (see tracker/alerts).
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=2.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Alert tasks wait on the network, not the CPU: threads serve them with one process's memory.
CELERY_WORKER_POOL = env("CELERY_WORKER_POOL", default="threads")
CELERY_WORKER_CONCURRENCY = env.int("CELERY_WORKER_CONCURRENCY", default=4)
# One queue per kind of work, so each can get workers of its own (README, "Running it in
# production"): the fan-out of committed events, the sends (webhooks, email, digests), the
# periodic work (sweep, reminders, digest building, pruning) and the EDGAR importer, whose
# rate-limited fetches must never hold up the sweep. A worker started without -Q takes all.
# Each queue has an exchange and routing key of its own, so a route names one queue alone
# (left to the defaults, all four would share the default queue's exchange and key).
CELERY_TASK_QUEUES = [
    Queue(name, Exchange(name, type="direct"), routing_key=name)
    for name in ("dispatch", "send", "periodic", "sources")
]
CELERY_TASK_DEFAULT_QUEUE = "periodic"
CELERY_TASK_ROUTES = {
    "tracker.tasks.event_dispatch": {"queue": "dispatch"},
    "tracker.tasks.deliveries_send": {"queue": "send"},
    "tracker.tasks.digest_send": {"queue": "send"},
    # A full EDGAR round is thousands of these; the feed poll and the round's fan-out are
    # quick and stay on the periodic queue, so a new filing never waits behind a round.
    "tracker.tasks.edgar_sync_organization": {"queue": "sources"},
}
# Late-acknowledged tasks: a worker reserves one message at a time, so a message it holds
# is never stuck behind a long task while another worker is idle.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# --- REST framework (API: tracker/api) ---------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tracker.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["tracker.api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "tracker.api.filters.StrictSearchFilter",
        "tracker.api.filters.StrictOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "tracker.api.pagination.PagePagination",
    "DEFAULT_THROTTLE_CLASSES": [
        "tracker.api.throttles.TokenRateThrottle",
        "tracker.api.throttles.AnonymousRateThrottle",
    ],
    "EXCEPTION_HANDLER": "tracker.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "tracker.api.schema.TrackerAutoSchema",
    "DEFAULT_VERSIONING_CLASS": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
    # Proxies in front of the web tier; their X-Forwarded-For entries name the client.
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=0),
}
# Requests per client and window ("N/second|minute|hour|day"); one budget per API token
# (or per user on a browser session) and one per anonymous client address.
API_THROTTLE_RATES = {
    "token": env("API_THROTTLE_TOKEN_RATE", default="1200/minute"),
    "anon": env("API_THROTTLE_ANON_RATE", default="120/minute"),
}
# Where throttle counters live: shared by every web process, so Redis unless told otherwise
# ("locmemcache://" keeps them per process, for the demo without Redis).
API_THROTTLE_CACHE_URL = env("API_THROTTLE_CACHE_URL", default=REDIS_URL)
API_THROTTLE_KEY_PREFIX = env("API_THROTTLE_KEY_PREFIX", default="tracker-api")
# Largest JSON body the API parses; larger ones get 413.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=256 * 1024)
API_PAGE_SIZE = env.int("API_PAGE_SIZE", default=50)
API_MAX_PAGE_SIZE = env.int("API_MAX_PAGE_SIZE", default=200)
# With API_REQUIRE_IF_MATCH on, PUT, PATCH and DELETE without If-Match get 428 (RFC 6585),
# so no client can overwrite an edit it never saw.
API_REQUIRE_IF_MATCH = env.bool("API_REQUIRE_IF_MATCH", default=False)
SPECTACULAR_SETTINGS = {
    "TITLE": "Milestone Tracker API",
    "DESCRIPTION": (
        "Organizations, processes and milestones (filings, attorney-general reviews, IPO "
        "steps), the append-only event feed, and the caller's own alert subscriptions, "
        "webhook endpoints and deliveries.\n\n"
        "**Authentication**: `Authorization: Bearer <token>` (create one in the admin or with "
        "`manage.py create_api_token`), or a browser session.\n\n"
        "**Safe writes**: every detail response carries an `ETag`; send it back as `If-Match` "
        "on `PUT`, `PATCH` and `DELETE` and the write is refused with 412 when the row changed "
        "meanwhile.\n\n"
        "**Errors**: every 4xx has the body `{code, message, fields}`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tracker.api.schema.add_error_responses",
        "tracker.api.schema.state_constraints",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ProcessKindEnum": "tracker.models.processes.ProcessKind",
        "ProcessStatusEnum": "tracker.models.processes.ProcessStatus",
        "MilestoneKindEnum": "tracker.models.milestones.MilestoneKind",
        "MilestoneStatusEnum": "tracker.models.milestones.MilestoneStatus",
        "EventTypeEnum": "tracker.models.events.EventType",
        "ActorTypeEnum": ["user", "system"],
        "ChannelEnum": "tracker.models.alerts.Channel",
        "EndpointChannelEnum": "tracker.models.alerts.ENDPOINT_CHANNEL_CHOICES",
    },
}

# --- Tracker -----------------------------------------------------------------------------
# Anonymous visitors may read the record, the pages and the feeds when this is on.
TRACKER_PUBLIC_READ = env.bool("TRACKER_PUBLIC_READ", default=True)
# Fernet keys (comma-separated) that encrypt webhook signing secrets at rest: the first
# encrypts, every one decrypts (rotate with manage.py rotate_encryption_key). Each
# environment module sets it; production requires it from the environment.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])

# --- Subscribers' accounts (tracker/web/account_views.py) ---------------------------------
LOGIN_REDIRECT_URL = "account_alerts"
LOGOUT_REDIRECT_URL = "web_dashboard"
# How long an invitation link works.
ACCOUNTS_INVITATION_DAYS = env.int("ACCOUNTS_INVITATION_DAYS", default=7)

# --- Alerts ------------------------------------------------------------------------------
# Webhook HTTP: connect timeout and the total time one attempt may take (Standard Webhooks
# receivers should answer fast; a slow one counts as a failure and is retried).
WEBHOOK_CONNECT_TIMEOUT = env.float("WEBHOOK_CONNECT_TIMEOUT", default=3.0)
WEBHOOK_TOTAL_TIMEOUT = env.float("WEBHOOK_TOTAL_TIMEOUT", default=15.0)
# Seconds to wait before each attempt: the first is immediate, then 5 s, 5 min, 30 min, 2 h,
# 5 h, 10 h, 10 h; after the last one the delivery has failed.
WEBHOOK_RETRY_SCHEDULE = env.list(
    "WEBHOOK_RETRY_SCHEDULE", cast=float, default=[0, 5, 300, 1800, 7200, 18000, 36000, 36000]
)
# Each delay is spread by up to this fraction either way, so endpoints that failed together
# are not all retried in the same second.
WEBHOOK_RETRY_JITTER = env.float("WEBHOOK_RETRY_JITTER", default=0.1)
# An endpoint whose deliveries have all failed for this long is disabled and its owner told.
WEBHOOK_DISABLE_AFTER_DAYS = env.float("WEBHOOK_DISABLE_AFTER_DAYS", default=5)
# How long the previous secret keeps signing after a rotation.
WEBHOOK_SECRET_GRACE_HOURS = env.float("WEBHOOK_SECRET_GRACE_HOURS", default=24)
# SSRF guard: addresses that are not public are refused unless one of these networks holds
# them (CIDR, e.g. "10.1.2.0/24"); plain http is refused unless allowed.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
# Slack and Teams endpoints take only those services' own webhook URLs. Hosts listed here
# pass whatever their URL: for the tests' local receiver only, so it is not read from the
# environment (production cannot widen it).
ALERTS_CHAT_ALLOWED_HOSTS: list[str] = []
# Sends a worker process has in flight at once (threads doing network I/O only).
ALERTS_SEND_CONCURRENCY = env.int("ALERTS_SEND_CONCURRENCY", default=16)
# A send still unanswered after this many seconds stops counting against the concurrency
# above (it keeps its thread until its total timeout), so slow or silent receivers cannot
# hold up everyone else's; ALERTS_SEND_MAX_IN_FLIGHT bounds all sends in flight.
ALERTS_SLOW_SEND_AFTER = env.float("ALERTS_SLOW_SEND_AFTER", default=0.2)
ALERTS_SEND_MAX_IN_FLIGHT = env.int("ALERTS_SEND_MAX_IN_FLIGHT", default=160)
# Requests in flight to one endpoint, across all threads and worker processes.
ALERTS_ENDPOINT_CONCURRENCY = env.int("ALERTS_ENDPOINT_CONCURRENCY", default=2)
# After this many failed attempts in a row an endpoint is paused (the circuit breaker): its
# deliveries wait for its next retry time, on the retry schedule, instead of taking senders.
ALERTS_BREAKER_THRESHOLD = env.int("ALERTS_BREAKER_THRESHOLD", default=5)
# Idle keep-alive connections kept for webhook receivers, in all, and for how long.
WEBHOOK_IDLE_CONNECTIONS = env.int("WEBHOOK_IDLE_CONNECTIONS", default=64)
WEBHOOK_IDLE_TIMEOUT = env.float("WEBHOOK_IDLE_TIMEOUT", default=30.0)
# A delivery "sending" for longer than the total timeout plus this margin was claimed by a
# worker that died; the sweep makes it due again.
ALERTS_RECLAIM_MARGIN = env.float("ALERTS_RECLAIM_MARGIN", default=30.0)
# Work already queued once (an event's doorbell, a delivery never attempted) is queued again
# by the sweep only after this long, so a backlog is not flooded with repeats.
ALERTS_SWEEP_REQUEUE_GRACE = env.float("ALERTS_SWEEP_REQUEUE_GRACE", default=30.0)
ALERTS_SWEEP_INTERVAL = env.float("ALERTS_SWEEP_INTERVAL", default=5.0)
# Reminders: days before a target date that "deadline approaching" fires.
ALERTS_REMINDER_DAYS = env.list("ALERTS_REMINDER_DAYS", cast=int, default=[7, 1])
# Digests go out at this hour of each subscriber's own time zone (the site's TIME_ZONE for
# those who chose none); weekly ones on this weekday (0 = Monday).
ALERTS_DIGEST_HOUR = env.int("ALERTS_DIGEST_HOUR", default=7)
ALERTS_DIGEST_WEEKDAY = env.int("ALERTS_DIGEST_WEEKDAY", default=0)
# Finished deliveries and attempts older than this are pruned nightly, in batches; events
# are kept (tracker/alerts/retention.py).
ALERTS_DELIVERY_RETENTION_DAYS = env.int("ALERTS_DELIVERY_RETENTION_DAYS", default=90)
# A worker that has taken no message and runs no task for this long while work in the
# database has been due for as long is stuck on its broker connection: it exits (status 70)
# for its supervisor to restart it (tracker/alerts/watchdog.py). 0 turns the watchdog off.
ALERTS_WATCHDOG_STALL_SECONDS = env.float("ALERTS_WATCHDOG_STALL_SECONDS", default=60.0)

# --- Health and metrics (tracker/monitoring) ----------------------------------------------
# /readyz answers 503 when any of these is exceeded (seconds): the periodic sweep's last run
# (beat and a worker on the periodic queue are alive; it runs every ALERTS_SWEEP_INTERVAL),
# the oldest event not yet dispatched, and the oldest delivery overdue for its attempt.
READYZ_BEAT_MAX_AGE = env.float("READYZ_BEAT_MAX_AGE", default=60.0)
READYZ_UNDISPATCHED_EVENT_MAX_AGE = env.float("READYZ_UNDISPATCHED_EVENT_MAX_AGE", default=300.0)
READYZ_OVERDUE_DELIVERY_MAX_AGE = env.float("READYZ_OVERDUE_DELIVERY_MAX_AGE", default=900.0)
# How long /readyz waits for the broker to answer.
READYZ_BROKER_TIMEOUT = env.float("READYZ_BROKER_TIMEOUT", default=2.0)
# /metrics is off (404) unless a token is set; then it answers a bearer of the token, or a
# client connecting from one of these networks (CIDR, e.g. "10.0.0.0/8").
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
# The attempt-duration histogram covers the attempts of this many last seconds.
METRICS_ATTEMPT_WINDOW_SECONDS = env.float("METRICS_ATTEMPT_WINDOW_SECONDS", default=300.0)

# --- EDGAR (tracker/sources/edgar) -------------------------------------------------------
# Where the SEC serves the submissions documents, and the archives (filing index pages, the
# current-filings feed). Only these two hosts are ever fetched.
EDGAR_BASE_URL = env("EDGAR_BASE_URL", default="https://data.sec.gov").rstrip("/")
EDGAR_ARCHIVES_URL = env("EDGAR_ARCHIVES_URL", default="https://www.sec.gov").rstrip("/")
# The SEC's fair-access rules require every request to name the organization and a contact
# address, e.g. "Example Corp ops@example.com". No default: a sync without it stops.
EDGAR_USER_AGENT = env("EDGAR_USER_AGENT", default="")
# Requests per second to EDGAR, shared by every worker and command (through the Redis at
# REDIS_URL; per process without Redis). The SEC allows at most 10.
EDGAR_MAX_REQUESTS_PER_SECOND = env.int("EDGAR_MAX_REQUESTS_PER_SECOND", default=10)
if not 1 <= EDGAR_MAX_REQUESTS_PER_SECOND <= 10:  # 0 would wait for ever, above 10 gets blocked
    raise ImproperlyConfigured(
        f"EDGAR_MAX_REQUESTS_PER_SECOND must be 1 to 10 (the SEC allows at most 10), "
        f"not {EDGAR_MAX_REQUESTS_PER_SECOND}."
    )
# Seconds between full syncs of every followed organization (the safety net) and between
# polls of the current-filings feed (how new filings are noticed within a minute).
EDGAR_SYNC_INTERVAL = env.float("EDGAR_SYNC_INTERVAL", default=900)
EDGAR_FEED_INTERVAL = env.float("EDGAR_FEED_INTERVAL", default=60)
# Connect and read timeouts of one request; a stalled answer fails that organization's sync.
EDGAR_CONNECT_TIMEOUT = env.float("EDGAR_CONNECT_TIMEOUT", default=5.0)
EDGAR_READ_TIMEOUT = env.float("EDGAR_READ_TIMEOUT", default=20.0)
# After the SEC's "Request Rate Threshold Exceeded" page, every client waits this long.
EDGAR_BLOCKED_PAUSE = env.float("EDGAR_BLOCKED_PAUSE", default=600)

CELERY_BEAT_SCHEDULE = {
    # The feed poll is how a new filing is noticed within a minute; a late one is
    # superseded by the next.
    "edgar-feed-poll": {
        "task": "tracker.tasks.edgar_feed_poll",
        "schedule": EDGAR_FEED_INTERVAL,
        "options": {"expires": EDGAR_FEED_INTERVAL},
    },
    "edgar-sync": {"task": "tracker.tasks.edgar_sync", "schedule": EDGAR_SYNC_INTERVAL},
    # Each sweep expires when the next is due: a worker back after an hour runs one sweep,
    # not the 720 that beat queued meanwhile.
    "alerts-sweep": {
        "task": "tracker.tasks.alerts_sweep",
        "schedule": ALERTS_SWEEP_INTERVAL,
        "options": {"expires": ALERTS_SWEEP_INTERVAL},
    },
    # Hourly: the dedupe keys make repeats harmless and a new milestone is picked up soon.
    "alerts-reminders": {
        "task": "tracker.tasks.reminders_scan",
        "schedule": crontab(minute=5),
        "options": {"expires": 3600},
    },
    # Hourly: each subscriber's digest is built when it is ALERTS_DIGEST_HOUR (on
    # ALERTS_DIGEST_WEEKDAY for weekly ones) in their own time zone.
    "alerts-daily-digests": {
        "task": "tracker.tasks.digests_build",
        "schedule": crontab(minute=0),
        "args": ("daily",),
        "options": {"expires": 3600},
    },
    "alerts-weekly-digests": {
        "task": "tracker.tasks.digests_build",
        "schedule": crontab(minute=0),
        "args": ("weekly",),
        "options": {"expires": 3600},
    },
    "alerts-prune-deliveries": {
        "task": "tracker.tasks.deliveries_prune",
        "schedule": crontab(hour=3, minute=30),
    },
}

# --- Logs and errors (config/observability.py) --------------------------------------------
# LOG_FORMAT=json writes one JSON object per line, for log shippers.
LOGGING = logging_config(
    level=env("LOG_LEVEL", default="INFO"), log_format=env("LOG_FORMAT", default="text")
)
# Unhandled exceptions of the web and the workers go to Sentry when SENTRY_DSN is set.
sentry_init(
    dsn=env("SENTRY_DSN", default=""),
    environment=env("SENTRY_ENVIRONMENT", default=""),
    release=env("SENTRY_RELEASE", default=""),
    traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
)
