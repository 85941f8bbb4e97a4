"""Field validators shared by the models, the admin forms and the API serializers."""

import datetime
import re

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
