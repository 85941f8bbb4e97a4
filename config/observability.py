"""Where errors and logs go: Sentry when ``SENTRY_DSN`` is set, JSON lines when
``LOG_FORMAT=json``. Called from the settings, so the web processes and the Celery workers
(which load the same settings) are set up alike."""


def logging_config(*, level: str, log_format: str) -> dict:
    """The LOGGING dict: one console handler, plain text or one JSON object per line."""
    if log_format not in ("text", "json"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"LOG_FORMAT must be 'text' or 'json', not {log_format!r}.")
    formatters = {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        # Log shippers (Loki, CloudWatch, Datadog) parse these fields without a grok rule.
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(process)d %(threadName)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": formatters,
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": log_format}},
        "root": {"handlers": ["console"], "level": level},
    }


def sentry_init(*, dsn: str, environment: str, release: str, traces_sample_rate: float) -> None:
    """Report unhandled exceptions of views and Celery tasks to Sentry (nothing when no DSN).

    ``send_default_pii`` stays off: reports carry no cookies, user names or addresses, and
    request bodies (which may hold a webhook secret or an API key) are not sent.
    """
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.stdlib import StdlibIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        release=release or None,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        # Its http.client breadcrumbs carry every URL the transports POST to, and a Slack or
        # Teams URL is itself a credential.
        disabled_integrations=[StdlibIntegration()],
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        max_request_body_size="never",
    )
