"""The one error format of the API: ``{"code", "message", "fields"}`` for every 4xx."""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

from tracker.services.errors import ConcurrentUpdateError


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = (
        "The row changed after you read it (its ETag no longer matches If-Match). "
        "Fetch it again and reapply your change."
    )
    default_code = "precondition_failed"


class PreconditionRequired(exceptions.APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = (
        "This server requires If-Match on PUT, PATCH and DELETE, so that no write overwrites "
        "a change you have not seen. Send the ETag of your last read of the row as If-Match "
        "(or If-Match: * to write whatever its version)."
    )
    default_code = "precondition_required"


_VALIDATION_MESSAGE = "Some fields are invalid; see `fields`."


def flatten_field_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """{"depends_on": {0: ["..."]}} -> {"depends_on.0": ["..."]}; non-field errors under
    ``non_field_errors``."""
    flat: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = api_settings.NON_FIELD_ERRORS_KEY if key == NON_FIELD_ERRORS else str(key)
            flat.update(flatten_field_errors(value, f"{prefix}.{name}" if prefix else name))
    elif isinstance(detail, list) and any(isinstance(item, dict | list) for item in detail):
        for index, item in enumerate(detail):
            if item:
                flat.update(
                    flatten_field_errors(item, f"{prefix}.{index}" if prefix else str(index))
                )
    elif isinstance(detail, list):
        flat[prefix or api_settings.NON_FIELD_ERRORS_KEY] = [str(item) for item in detail]
    else:
        flat[prefix or api_settings.NON_FIELD_ERRORS_KEY] = [str(detail)]
    return flat


def error_body(*, code: str, message: str, fields: dict | None = None) -> dict:
    return {"code": code, "message": message, "fields": fields or {}}


def api_exception_handler(exc, context):
    """DRF's handler (status, WWW-Authenticate and Retry-After headers), then the one body.

    Services raise Django's ValidationError and ConcurrentUpdateError; they become 400 and
    412 here so that views can call services without translating errors themselves.
    """
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, ConcurrentUpdateError):
        exc = PreconditionFailed(str(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_field_errors(exc.detail)
        only_general = set(fields) == {api_settings.NON_FIELD_ERRORS_KEY}
        message = " ".join(fields[api_settings.NON_FIELD_ERRORS_KEY]) if only_general else None
        response.data = error_body(
            code="invalid", message=message or _VALIDATION_MESSAGE, fields=fields
        )
    else:
        codes = exc.get_codes()
        response.data = error_body(
            code=codes if isinstance(codes, str) else exc.default_code, message=str(exc.detail)
        )
    return response
