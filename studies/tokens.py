"""Personal API tokens: the authentication class and the API's error bodies. The token
endpoint and the profile page (where people make and revoke tokens) are in views_tokens.py.

DRF resolves the authentication classes while `rest_framework.views` is being imported, so this
module must not import DRF's views (that would be a circular import).

A token is `clq_` + 43 URL-safe characters. The database keeps its SHA-256 only, so a token is
found by hashing what the client sent; the hash is unique and indexed, and a guess reveals
nothing through timing because the attacker does not control the hash.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError
from rest_framework import authentication, exceptions
from rest_framework.response import Response

from studies.models import APIToken

# --- Authentication -------------------------------------------------------------------------


class TokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token clq_...` with a personal token. DRF's class parses the header;
    this one looks the token up by its hash and refuses revoked ones."""

    keyword = "Token"
    model = APIToken

    def authenticate_credentials(self, key: str) -> tuple[object, APIToken]:
        token = (
            APIToken.objects.filter(key_hash=APIToken.hash_of(key)).select_related("user").first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.is_active:
            raise exceptions.AuthenticationFailed(
                f"This token ({token.prefix}…) was revoked; make a new one on your profile page."
            )
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        token.touch()
        return token.user, token


def issue_token(user: object, *, name: str) -> tuple[APIToken, str]:
    """A new personal token for `user` and its secret (shown once, never stored), for scripts and
    tests that need a token without going through the endpoint or the profile page."""
    return APIToken.issue(user=user, name=name)


# --- Error bodies ---------------------------------------------------------------------------


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, plus a machine-readable `code` beside `detail` ("not_found",
    "permission_denied", "not_authenticated", "authentication_failed", "throttled", ...), so
    scripts need not parse messages. Validation errors keep DRF's field -> messages shape."""
    from rest_framework.views import exception_handler as drf_exception_handler  # see above

    if isinstance(exc, InterfaceError | OperationalError):
        # The database went away (a restart, a dropped connection): a clean answer the client
        # can act on, not an HTML error page. Django reconnects on the next request, and a
        # request sent again with its Idempotency-Key is done once (coding.idempotency).
        return Response(
            {
                "detail": "The database was unavailable, so this request may not have been "
                "completed. Try again in a moment.",
                "code": "database_unavailable",
            },
            status=503,
            headers={"Retry-After": "1"},
        )
    response = drf_exception_handler(exc, context)
    if response is None or isinstance(exc, exceptions.ValidationError):
        return response
    if isinstance(response.data, dict) and "detail" in response.data:
        response.data["code"] = getattr(response.data["detail"], "code", None) or "error"
    return response
