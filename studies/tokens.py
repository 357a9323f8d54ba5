"""Personal API tokens: the authentication class and the API's error bodies. The token
endpoint and the profile page (where people make and revoke tokens) are in views_tokens.py.

DRF resolves the authentication classes while `rest_framework.views` is being imported, so this
module must not import DRF's views (that would be a circular import).

A token is `clq_` + 43 URL-safe characters. The database keeps its SHA-256 only, so a token is
found by hashing what the client sent; the hash is unique and indexed, and a guess reveals
nothing through timing because the attacker does not control the hash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import InterfaceError, OperationalError, connections, router
from django.db.models import Field
from django.db.models.expressions import Col
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
        token = _token_with_user(APIToken.hash_of(key))
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


@dataclass(frozen=True)
class _Lookup:
    sql: str
    fields: list[Field]  # the token's concrete fields, then its user's
    # Per field, the conversions the ORM applies to its column (SQLite's dates, booleans...).
    converters: list[tuple[Col, list[Callable]]]


_LOOKUPS: dict[str, _Lookup] = {}


def _lookup(db: str) -> _Lookup:
    if db not in _LOOKUPS:
        q = connections[db].ops.quote_name
        user_model = APIToken._meta.get_field("user").related_model
        fields = [*APIToken._meta.concrete_fields, *user_model._meta.concrete_fields]
        columns = ", ".join(
            f"{'t' if field.model is APIToken else 'u'}.{q(field.column)}" for field in fields
        )
        token_user = q(APIToken._meta.get_field("user").column)
        key_hash = q(APIToken._meta.get_field("key_hash").column)
        # Only names from the models go into the text; the hash is bound.
        sql = (
            f"SELECT {columns} FROM {q(APIToken._meta.db_table)} t "  # noqa: S608
            f"JOIN {q(user_model._meta.db_table)} u ON u.{q(user_model._meta.pk.column)} = "
            f"t.{token_user} WHERE t.{key_hash} = %s"
        )
        connection = connections[db]
        converters = []
        for field in fields:
            col = field.get_col(field.model._meta.db_table)
            convert = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
            converters.append((col, convert))
        _LOOKUPS[db] = _Lookup(sql, fields, converters)
    return _LOOKUPS[db]


def _token_with_user(key_hash: str) -> APIToken | None:
    """The token with this hash and its user, read in one statement on every request, so a
    revoked token or a deactivated account stops working at once. The statement is written
    once per process from the models' names: the ORM compiled the same join on every call,
    which cost more than running it."""
    db = router.db_for_read(APIToken)
    connection = connections[db]
    lookup = _lookup(db)
    with connection.cursor() as cursor:
        cursor.execute(lookup.sql, [key_hash])
        row = cursor.fetchone()
    if row is None:
        return None
    values = []
    for (col, converters), value in zip(lookup.converters, row, strict=True):
        for convert in converters:
            value = convert(value, col, connection)
        values.append(value)
    split = len(APIToken._meta.concrete_fields)
    names = [field.attname for field in lookup.fields]
    token = APIToken.from_db(db, names[:split], values[:split])
    token.user = lookup.fields[-1].model.from_db(db, names[split:], values[split:])
    return token


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
