"""Production: PostgreSQL, Redis, SMTP. Secrets have no default, so a missing one fails at boot.

Everything fails closed: HTTPS only (redirect, HSTS, secure cookies), no anonymous reading
unless TRACKER_PUBLIC_READ says so, and ``manage.py check --deploy`` passes with no warning.
"""

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = env("SECRET_KEY")
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# Without these, alert mail would go to the console while deliveries count as sent, and
# unsubscribe links would point at localhost.
vars().update(env.email_url("EMAIL_URL"))
SITE_URL = env("SITE_URL").rstrip("/")
# Alert mail from alerts@localhost is refused by many relays (SPF, DMARC): name the sender.
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
DEBUG = False

# The record is read by signed-in users only, unless the operator opens it on purpose.
TRACKER_PUBLIC_READ = env.bool("TRACKER_PUBLIC_READ", default=False)

# Webhook signing secrets are encrypted with these keys; without one they could not be read
# back, so the process refuses to start rather than fail at the first delivery.
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY")
if not FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured("Set the FIELD_ENCRYPTION_KEY environment variable.")
for _key in FIELD_ENCRYPTION_KEY:
    try:
        Fernet(_key)
    except ValueError as _error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY holds a value that is not a Fernet key (make one with: python "
            '-c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
        ) from _error

# HTTPS only. Behind a proxy that ends TLS, the proxy must set X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Probes from inside the cluster (load balancer, compose, Kubernetes) speak plain http.
SECURE_REDIRECT_EXEMPT = env.list(
    "SECURE_REDIRECT_EXEMPT", default=[r"^healthz$", r"^readyz$", r"^metrics$"]
)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
