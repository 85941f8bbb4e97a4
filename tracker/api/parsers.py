"""The one request body format: JSON, with a size limit."""

import codecs
import json

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class LimitedJSONParser(JSONParser):
    """JSON bodies up to ``API_MAX_BODY_BYTES``; anything malformed is a 400 with the reason.

    DRF reads the body from the stream itself, which skips Django's own
    DATA_UPLOAD_MAX_MEMORY_SIZE check, so the limit is enforced here.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0) if request else 0
        except ValueError:
            declared = 0
        if declared > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.decode(raw, encoding)
        except (UnicodeDecodeError, LookupError) as error:
            raise exceptions.ParseError(f"The body is not valid {encoding} text.") from error
        try:
            return json.loads(text, parse_constant=_refuse_constant)
        except RecursionError as error:
            raise exceptions.ParseError("The JSON body is nested too deeply.") from error
        except ValueError as error:
            raise exceptions.ParseError(f"The body is not valid JSON: {error}") from error


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
