"""OpenAPI details that DRF cannot infer: the ETag and If-Match headers, and the one error
body on every 4xx an operation can answer."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter

from tracker.models.milestones import MAX_GAP_DAYS
from tracker.validators import EARLIEST_DATE, LATEST_DATE

from .permissions import ReadPermission, RecordPermission
from .serializers.record import MAX_DEPENDENCIES, MAX_ID
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


# What the validators accept, as JSON Schema patterns (tracker/validators.py).
_NO_NUL = "^[^\\x00]*$"  # PostgreSQL text cannot hold NUL; the API refuses it
_NOT_BLANK = "^[^\\x00]*[^\\s\\x00][^\\x00]*$"  # what is left after trimming spaces
_PATTERNS = {
    "ticker": "^([A-Z][A-Z0-9.\\-]{0,9})?$",
    "cik": "^[0-9]{0,10}$",
    # http(s) with a host name of at most 253 characters, as Django's URLValidator wants
    # (it also takes IP addresses and international names, which a client can send in
    # their ASCII form, and longer labels).
    "url": (
        "^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9]([A-Za-z0-9-]{0,40}[A-Za-z0-9])?\\.){1,4}"
        "[A-Za-z]{2,63}(:[0-9]{1,5})?(/[A-Za-z0-9._~!$&'()*+,;=:@/?-]*)?$"
    ),
}
assert (EARLIEST_DATE.year, LATEST_DATE.year) == (1900, 2199), "update _DATE below"
_DATE = "^(19[0-9]{2}|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_RELATIONS = {"process", "organization", "endpoint", "organizations", "processes"}


def state_constraints(result, generator, request, public):
    """Postprocessing hook: state in the schema what the API enforces beyond the field types,
    so that what a client (or a fuzzer) builds from the schema is accepted: ids within 64
    bits, no unknown fields, no NUL characters, non-blank required strings, dates within
    1900-2199, http(s) URLs, tickers and CIKs as their validators want them."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter["in"] == "path":
                    # Every path parameter is a row's id (or the feed's sequence); the views'
                    # digits-only route would otherwise read as a string.
                    parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
                elif schema.get("type") == "boolean":
                    # "true" or "false" on the wire: an enum of strings contradicts the type.
                    schema.pop("enum", None)
                elif parameter["in"] == "query" and _free_text(schema):
                    schema["pattern"] = _NO_NUL
    for name, component in result.get("components", {}).get("schemas", {}).items():
        for schema in component.get("properties", {}).values():
            if schema.get("format") == "uri":
                schema["format"] = "iri"  # URLs may hold non-ASCII letters (tracker.validators)
        if not name.endswith("Request") or component.get("type") != "object":
            continue
        component["additionalProperties"] = False
        for field, schema in component.get("properties", {}).items():
            _constrain(field, schema)
        if name.endswith("EndpointRequest") or name.endswith("EndpointWithSecretRequest"):
            _url_by_channel(component)
    return result


# The chat services' own webhook URL shapes (tracker.validators.chat_url_problem): what an
# endpoint of the slack or teams channel accepts as its URL.
_CHAT_URL_PATTERNS = {
    "slack": "^https://hooks\\.slack\\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+$",
    "teams": (
        "^https://(([a-z0-9-]+\\.webhook\\.office\\.com(:443)?/webhookb2/[A-Za-z0-9@/-]*)"
        "|(([a-z0-9-]+\\.)+logic\\.azure\\.com(:443)?/workflows/[0-9A-Za-z]+/triggers/manual"
        "/paths/invoke\\?api-version=[0-9-]+&sig=[A-Za-z0-9_-]+)"
        "|(([a-z0-9-]+\\.)+environment\\.api\\.powerplatform\\.com(:443)?/powerautomate"
        "/automations/direct/workflows/[0-9A-Za-z]+/triggers/manual/paths/invoke"
        "\\?api-version=1&sig=[A-Za-z0-9_-]+))$"
    ),
}


def _url_by_channel(component: dict) -> None:
    """An endpoint's URL depends on its channel: any http(s) URL for a webhook, the chat
    service's own shape for slack and teams (one branch each; no channel means webhook)."""
    url = component.get("properties", {}).get("url")
    if url is None:
        return
    webhook_pattern = url.pop("pattern", _PATTERNS["url"])
    component["oneOf"] = [
        {"properties": {"channel": {"enum": ["webhook"]}, "url": {"pattern": webhook_pattern}}},
        *(
            {
                "properties": {"channel": {"enum": [channel]}, "url": {"pattern": pattern}},
                "required": ["channel"],
            }
            for channel, pattern in _CHAT_URL_PATTERNS.items()
        ),
    ]


def _free_text(schema: dict) -> bool:
    return schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema)


def _constrain(field: str, schema: dict) -> None:
    if field == "depends_on":
        schema.update(uniqueItems=True, maxItems=MAX_DEPENDENCIES)
    elif field in _RELATIONS:
        target = schema.get("items", schema)
        if target.get("type") == "integer":
            target.update(minimum=1, maximum=MAX_ID)
    elif schema.get("format") == "date":
        schema["pattern"] = _DATE  # with the format, which knows each month's length
    elif field in _PATTERNS and schema.get("type") == "string":
        schema["pattern"] = _PATTERNS[field]
    elif "oneOf" in schema:  # a URL, or blank
        for branch in schema["oneOf"]:
            if branch.get("format") in ("uri", "iri"):
                branch["format"] = "iri"
                branch["pattern"] = _PATTERNS["url"]
    elif _free_text(schema):
        schema["pattern"] = _NOT_BLANK if schema.get("minLength") else _NO_NUL
