"""OpenAPI details that DRF cannot infer: the ETag and If-Match headers, and the one error
body on every 4xx an operation can answer."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from tracker.models.milestones import MAX_GAP_DAYS

from .permissions import ReadPermission, RecordPermission
from .views.base import VersionedMixin

_ERROR_CODES = (
    "Stable, machine-readable: invalid, parse_error, not_authenticated, authentication_failed, "
    "token_expired, permission_denied, read_only_key, not_found, method_not_allowed, "
    "not_acceptable, unsupported_media_type, precondition_failed, precondition_required, "
    "request_too_large, throttled."
)


_ETAG = OpenApiParameter(
    "ETag",
    str,
    location=OpenApiParameter.HEADER,
    response=[200, 201],
    description="The row's version; send it back as If-Match to make a write conditional.",
)
_IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="An ETag from an earlier response: the write is refused with 412 (and nothing "
    "changes) when the row has changed since.",
)


class TrackerAutoSchema(AutoSchema):
    def get_auth(self):
        auth = super().get_auth()
        # A tuple, not X | Y: DRF permission classes overload | to compose permissions.
        public = any(
            isinstance(permission, (RecordPermission, ReadPermission))  # noqa: UP038
            for permission in self.view.get_permissions()
        )
        if public and self.method == "GET" and settings.TRACKER_PUBLIC_READ and {} not in auth:
            auth.append({})  # anonymous reads of the record and the feed
        return auth

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if not isinstance(self.view, VersionedMixin):
            return parameters
        if self.method in ("PUT", "PATCH", "DELETE"):
            parameters.append(_IF_MATCH)
        if self.method != "DELETE" and (self.method != "GET" or not self._is_list_view()):
            parameters.append(_ETAG)
        return parameters


class DependencyItemFieldExtension(OpenApiSerializerFieldExtension):
    """A dependency is written as an id or an object, and always read as an object."""

    target_class = "tracker.api.serializers.record.DependencyItemField"

    def map_serializer_field(self, auto_schema, direction):
        from .serializers.record import MAX_ID

        milestone_id = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        gap = {
            "type": "integer",
            "minimum": 0,
            "maximum": MAX_GAP_DAYS,
            "description": "Days that must pass after that milestone.",
        }
        link = {
            "type": "object",
            "properties": {"id": milestone_id, "min_gap_days": gap},
            "additionalProperties": False,
        }
        if direction == "response":
            return {**link, "required": ["id", "min_gap_days"]}
        return {"oneOf": [milestone_id, {**link, "required": ["id"]}]}


# Which 4xx an operation can answer, beyond those that apply to every operation.
_ALWAYS = ("400", "401", "403", "404", "405", "406", "429")
_WRITES = ("412", "413", "415")

_REASONS = {
    "400": "Invalid input or query parameters.",
    "401": "No or invalid credentials.",
    "403": "Not allowed.",
    "404": "Not found (or not yours).",
    "405": "Method not allowed.",
    "406": "Cannot produce the requested media type.",
    "412": "If-Match does not match the current ETag; nothing changed.",
    "413": "Body too large.",
    "428": "If-Match is missing and the server requires it (API_REQUIRE_IF_MATCH).",
    "415": "Body is not JSON.",
    "429": "Throttled; see Retry-After.",
}


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: document the error body on every 4xx of every operation."""
    error_ref = {"$ref": "#/components/schemas/Error"}
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = {
        "type": "object",
        "description": "The body of every 4xx response.",
        "properties": {
            "code": {"type": "string", "description": _ERROR_CODES},
            "message": {"type": "string", "description": "What went wrong, for people."},
            "fields": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "description": "Errors by field (dotted paths for nested items); "
                "`non_field_errors` for the request as a whole. Empty unless the code is "
                "`invalid`.",
            },
        },
        "required": ["code", "message", "fields"],
        "example": {
            "code": "invalid",
            "message": "Some fields are invalid; see `fields`.",
            "fields": {
                "target_date": [
                    "Date has wrong format. Use one of these formats instead: YYYY-MM-DD."
                ]
            },
        },
    }
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            codes = _ALWAYS + (_WRITES if method in ("post", "put", "patch", "delete") else ())
            if method in ("put", "patch", "delete"):
                codes += ("428",)
            responses = operation.setdefault("responses", {})
            for code in codes:
                response = responses.setdefault(code, {"description": _REASONS[code]})
                response["content"] = {"application/json": {"schema": error_ref}}
            if "429" in responses:
                responses["429"]["headers"] = {
                    "Retry-After": {
                        "schema": {"type": "integer"},
                        "description": "Seconds to wait.",
                    }
                }
    return result
