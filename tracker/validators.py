"""Field validators shared by the models, the admin forms and the API serializers."""

import datetime
import re
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.deconstruct import deconstructible

# What RFC 3987 allows in an IRI, outside an IPv6 host: "%" only before two hex digits, one
# "#" at most, no spaces, quotes or angle brackets (non-ASCII letters are fine: they are sent
# percent-encoded).
_IRI_CHAR = "[A-Za-z0-9._~!$&'()*+,;=:@/?\u00a0-\ud7ff\ue000-\U0010ffff-]|%[0-9A-Fa-f]{2}"
_IRI_RE = re.compile(f"^({_IRI_CHAR})*(#({_IRI_CHAR})*)?$")


@deconstructible
class HttpUrlValidator(URLValidator):
    """Django's URL check, limited to http(s) URLs that are IRIs as RFC 3987 has them, so
    that every URL stored is one the API's schema (format "iri") promises to return."""

    def __call__(self, value):
        super().__call__(value)
        if not _IRI_RE.match(value):
            raise ValidationError(self.message, code=self.code, params={"value": value})


http_url_validator = HttpUrlValidator(
    schemes=["http", "https"], message="Enter a valid http:// or https:// URL."
)

# [0-9], not \d: \d accepts other scripts' digits and would let the same filing in twice.
_CIK_RE = re.compile(r"^[0-9]{1,10}$")
ACCESSION_RE = re.compile(r"^[0-9]{10}-[0-9]{2}-[0-9]{6}$")
_TICKER_RE = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")


def normalize_cik(value: str) -> str:
    """Return an SEC Central Index Key as 10 digits, zero-padding shorter input.

    Raises ValidationError when the value is not 1 to 10 digits.
    """
    value = (value or "").strip()
    if not _CIK_RE.match(value):
        raise ValidationError(
            "A CIK is 1 to 10 digits, for example 0001234567.", code="invalid_cik"
        )
    return value.zfill(10)


def validate_cik(value: str) -> None:
    if value:
        normalize_cik(value)


def validate_sec_accession_number(value: str) -> None:
    if value and not ACCESSION_RE.match(value):
        raise ValidationError(
            "An SEC accession number looks like 0001234567-25-000123 "
            "(10 digits, 2 digits, 6 digits).",
            code="invalid_accession_number",
        )


def validate_ticker(value: str) -> None:
    if value and not _TICKER_RE.match(value):
        raise ValidationError(
            "A ticker is 1 to 10 upper-case letters, digits, dots or hyphens, starting with a "
            "letter.",
            code="invalid_ticker",
        )


# Dates outside this range are typing mistakes, and far-future ones cannot be rendered in
# calendars (the day after 9999-12-31 does not exist).
EARLIEST_DATE = datetime.date(1900, 1, 1)
LATEST_DATE = datetime.date(2199, 12, 31)


def validate_sane_date(value: datetime.date | None) -> None:
    if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValidationError(
            f"Enter a date between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}.",
            code="date_out_of_range",
        )


# The chat services' own incoming-webhook URL shapes (their documentation, 2025):
# Slack incoming webhooks: https://hooks.slack.com/services/T.../B.../<token>
_SLACK_PATH_RE = re.compile(r"^/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+$")
# Teams incoming webhooks (Office 365 connectors): https://<tenant>.webhook.office.com/webhookb2/...
_TEAMS_CONNECTOR_HOST_RE = re.compile(r"^[a-z0-9-]+\.webhook\.office\.com$")
# Power Automate "post to a channel when a webhook request is received" workflows, on Logic
# Apps (https://prod-NN.<region>.logic.azure.com:443/workflows/<id>/triggers/manual/paths/
# invoke?api-version=...&sp=...&sv=...&sig=...) and on Power Platform environments
# (https://<env>.NN.environment.api.powerplatform.com:443/powerautomate/automations/direct/
# workflows/<id>/triggers/manual/paths/invoke?api-version=1&sp=...&sv=1.0&sig=...).
_LOGIC_APPS_HOST_RE = re.compile(r"^([a-z0-9-]+\.)+logic\.azure\.com$")
_LOGIC_APPS_PATH_RE = re.compile(r"^/workflows/[0-9A-Za-z]+/triggers/[A-Za-z0-9_-]+/paths/invoke$")
_POWER_PLATFORM_HOST_RE = re.compile(r"^([a-z0-9-]+\.)+environment\.api\.powerplatform\.com$")
_POWER_PLATFORM_PATH_RE = re.compile(
    r"^/powerautomate/automations/direct/workflows/[0-9A-Za-z]+/triggers/[A-Za-z0-9_-]+/paths/invoke$"
)

SLACK_URL_HELP = (
    "A Slack channel takes a Slack incoming-webhook URL: https://hooks.slack.com/services/T…/B…/…"
)
TEAMS_URL_HELP = (
    "A Teams channel takes a Teams incoming-webhook URL "
    "(https://<tenant>.webhook.office.com/webhookb2/…) or a Power Automate workflow URL "
    "(https://….logic.azure.com:443/workflows/…/triggers/manual/paths/invoke?…&sig=… or "
    "https://….environment.api.powerplatform.com:443/powerautomate/automations/direct/"
    "workflows/…/triggers/manual/paths/invoke?…&sig=…)."
)


def chat_url_problem(channel: str, url: str) -> str:
    """Why ``url`` is not one of the chat service's own webhook URLs for ``channel``
    ("slack" or "teams"), or "" when it is (or when the channel is not a chat).

    Hosts named in ``ALERTS_CHAT_ALLOWED_HOSTS`` pass whatever their path: the tests' local
    receiver. The setting is not read from the environment, so production cannot widen it.
    """
    if channel not in ("slack", "teams"):
        return ""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return SLACK_URL_HELP if channel == "slack" else TEAMS_URL_HELP
    if host and host in settings.ALERTS_CHAT_ALLOWED_HOSTS:
        return ""
    secure = parts.scheme == "https" and port in (None, 443) and not parts.username
    if channel == "slack":
        ok = secure and host == "hooks.slack.com" and bool(_SLACK_PATH_RE.match(parts.path))
        return "" if ok and not parts.query else SLACK_URL_HELP
    if not secure:
        return TEAMS_URL_HELP
    if _TEAMS_CONNECTOR_HOST_RE.match(host):
        return "" if parts.path.startswith("/webhookb2/") else TEAMS_URL_HELP
    if _LOGIC_APPS_HOST_RE.match(host):
        path_ok = _LOGIC_APPS_PATH_RE.match(parts.path)
    elif _POWER_PLATFORM_HOST_RE.match(host):
        path_ok = _POWER_PLATFORM_PATH_RE.match(parts.path)
    else:
        return TEAMS_URL_HELP
    if not path_ok:
        return TEAMS_URL_HELP
    if not parse_qs(parts.query).get("sig"):
        # Without its signature a workflow URL only takes callers signed in to the tenant
        # (Microsoft Entra), which a server posting alerts is not: every send would fail.
        return (
            "This workflow URL has no sig=… parameter: set the workflow's trigger to accept "
            "anyone and copy its full URL. " + TEAMS_URL_HELP
        )
    return ""
