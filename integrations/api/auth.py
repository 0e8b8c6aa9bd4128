"""The REST API's token authentication (docs/contract.md §2, docs/security.md).

``Authorization: Bearer <token>`` or ``Authorization: Token <token>``. A refused token answers
401 with the reason in the body (``{"detail": "token expired"}``) and in ``WWW-Authenticate``
(RFC 6750: ``error="invalid_token", error_description="token expired"``). Django's login
lockout (django-axes) is not involved: tokens never go through ``authenticate()``.
"""

from typing import NoReturn

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

KEYWORDS = (b"bearer", b"token")
REALM = 'Bearer realm="api"'


class ApiTokenAuthentication(BaseAuthentication):
    """Authenticates as the token's user holding exactly the token's role."""

    def authenticate(self, request):
        # Imported here, as DRF's own TokenAuthentication does: DRF imports this class while
        # rest_framework.views loads (config.errors imports it), before the models may be.
        from integrations.services.tokens import TokenRefused, authenticate_token

        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None  # no token: another class (the session) may authenticate
        if len(parts) != 2:
            self._refuse(request, "malformed Authorization header")
        try:
            token = authenticate_token(parts[1].decode())
        except UnicodeDecodeError:
            self._refuse(request, "malformed token")
        except TokenRefused as refused:
            self._refuse(request, refused.reason)
        user = token.user
        # Pin the user's roles for this request (config/roles.py caches them on the user
        # object) to the token's one role, whatever groups the user holds.
        setattr(user, "_throughline_roles", frozenset({token.role} - {""}))  # noqa: B010
        return user, token

    def authenticate_header(self, request) -> str:
        reason = getattr(request, "_token_refusal", None)
        if reason is None:
            return REALM
        return f'{REALM}, error="invalid_token", error_description="{reason}"'

    @staticmethod
    def _refuse(request, reason: str) -> NoReturn:
        request._token_refusal = reason
        raise AuthenticationFailed(reason)
