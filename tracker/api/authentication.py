"""``Authorization: Bearer <key>`` with the hashed, revocable keys of tracker.services.tokens."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from tracker.models import TokenScope
from tracker.services.tokens import ApiTokenExpired, api_token_authenticate


class ApiTokenExpiredError(exceptions.AuthenticationFailed):
    default_code = "token_expired"


class ReadOnlyTokenError(exceptions.PermissionDenied):
    default_detail = (
        "This API key is read-only: it cannot create, change or delete anything. "
        "Use a key with the read-write scope."
    )
    default_code = "read_only_key"


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates a request by its API key; ``request.auth`` is the ApiToken row."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the key as 'Authorization: Bearer <key>', with no spaces in the key."
            )
        try:
            raw_key = header[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed("The API key is not valid.") from error
        try:
            token = api_token_authenticate(raw_key=raw_key)
        except ApiTokenExpired as error:
            raise ApiTokenExpiredError(str(error)) from error
        if token is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
        # Checked here rather than in each view's permissions, so that no view (including
        # ones added later with permissions of their own) lets a read-only key write.
        if token.scope != TokenScope.WRITE and request.method not in permissions.SAFE_METHODS:
            raise ReadOnlyTokenError()
        return token.user, token

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key from the admin or `manage.py create_api_token`.",
        }
