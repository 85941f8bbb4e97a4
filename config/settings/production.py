"""Production: PostgreSQL, Redis, SMTP. Secrets have no default, so a missing one fails at boot."""

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
DEBUG = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_CONTENT_TYPE_NOSNIFF = True
