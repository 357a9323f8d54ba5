"""`Idempotency-Key` for the coding endpoints: a request sent again with the same key by the same
person within a day gets the first answer back and writes nothing new (DESIGN.md).

A client that lost an answer (a dropped connection, a database restart, a 503) cannot know
whether its coding was saved; it sends the request again with the same key and gets exactly one
coding. The rules, decided here for POST /codings/, POST /codings/bulk/ and DELETE /codings/{id}/:

- Without the header nothing changes and nothing extra is written or read.
- With it, the work and the key's row (the first answer: status and body) are written in one
  transaction, so either both are saved or neither. The row is unique per (person, key): a
  second request with the key while the first is still running waits for the first to finish
  (the database holds its insert) and then answers with the first's answer; if the first one
  failed, nothing of it was kept and the second one does the work itself.
- Only successful answers (2xx) are kept. A refusal (400, 403, 404) or a database failure (503)
  keeps nothing, so the same request may be sent again with the same key.
- A request sent again after a success gets the first answer (status and body, with the header
  `Idempotent-Replayed: true`), even when what it did has since changed: a repeated DELETE of a
  coding already removed answers the first 204, not 404.
- The same key with another request (another method, path or body) is refused with 422.
- A key is kept for a day (`LIFETIME`); an older one is ignored and reused, and
  `purge_expired()` deletes them all (for a periodic cleanup).
- 409 answers the rare request whose key is taken by a row that has vanished again before it
  could be read (e.g. purged meanwhile) twice in a row; trying again resolves it.

The happy path costs one INSERT and a transaction around the work; a repeated request is
recognised after its work is tried and rolled back, so a first request pays no lookup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404, QueryDict
from django.utils import timezone
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from coding.models import IdempotencyKey

HEADER = "Idempotency-Key"
LIFETIME = dt.timedelta(days=1)
KEY_MAX = IdempotencyKey._meta.get_field("key").max_length

# What a request's work may refuse with, keeping nothing: then a first answer stored under
# the key (the request was done before) is the answer instead.
REFUSALS = (exceptions.APIException, Http404, PermissionDenied)


class KeyReused(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"


class KeyInFlight(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "idempotency_key_in_flight"
    default_detail = (
        "A request with this Idempotency-Key is still being processed; try again in a moment."
    )


class _KeyTaken(Exception):
    """The key's row exists already: the transaction is rolled back and the row read."""


def key_of(request: Request) -> str | None:
    """The request's Idempotency-Key, or None without one; a malformed key is refused (400)."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= KEY_MAX or not all("!" <= ch <= "~" for ch in key):
        raise exceptions.ValidationError(
            {
                HEADER: [
                    f"The {HEADER} header must be 1 to {KEY_MAX} visible ASCII characters "
                    "without spaces (a random UUID is a good key)."
                ]
            }
        )
    return key


def fingerprint(request: Request) -> str:
    """The request as the key remembers it: method, path and a hash of the parsed body (so the
    same JSON with other spacing or key order is the same request)."""
    data = request.data
    if isinstance(data, QueryDict):
        data = {name: data.getlist(name) for name in data}
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    digest = hashlib.sha256(body.encode()).hexdigest()
    return f"{request.method} {request.path} {digest}"


def respond(request: Request, work: Callable[[], Response]) -> Response:
    """`work()`'s answer, done at most once per (person, Idempotency-Key) within LIFETIME."""
    key = key_of(request)
    if key is None:
        return work()
    request_print = fingerprint(request)
    for _attempt in range(2):
        try:
            with transaction.atomic():
                response = work()
                if status.is_success(response.status_code):
                    _remember(request.user, key, request_print, response)
            return response
        except _KeyTaken:
            pass
        except REFUSALS:
            # E.g. a repeated DELETE of a coding that the first request removed (404 now).
            first = _first_answer(request.user, key, request_print)
            if first is None:
                raise
            return first
        first = _first_answer(request.user, key, request_print)
        if first is not None:
            return first
        # The row that took the key was older than a day and is gone now: do the work again.
    raise KeyInFlight()


def _remember(user: object, key: str, request_print: str, response: Response) -> None:
    """The key's row with the answer, inside the work's transaction. The unique constraint
    makes a concurrent request with the key wait here for this one's commit, then fail."""
    try:
        IdempotencyKey.objects.create(
            user=user,
            key=key,
            fingerprint=request_print,
            status=response.status_code,
            body=response.data,
        )
    except IntegrityError:
        raise _KeyTaken() from None


def _first_answer(user: object, key: str, request_print: str) -> Response | None:
    """The stored answer for the key, or None when there is none that is fresh; an expired row
    is deleted so the key can be used again. The key with another request: 422."""
    row = IdempotencyKey.objects.filter(user=user, key=key).first()
    if row is None:
        return None
    cutoff = timezone.now() - LIFETIME
    if row.created_at < cutoff:
        IdempotencyKey.objects.filter(pk=row.pk, created_at__lt=cutoff).delete()
        return None
    if row.fingerprint != request_print:
        method, path, _digest = row.fingerprint.split(" ", 2)
        same = f"{method} {path}" == " ".join(request_print.split(" ", 2)[:2])
        raise KeyReused(
            f"This {HEADER} was already used for "
            + (f"{method} {path} with a different body" if same else f"{method} {path}")
            + "; send a new key with a new request."
        )
    return Response(row.body, status=row.status, headers={"Idempotent-Replayed": "true"})


def purge_expired(now: dt.datetime | None = None) -> int:
    """Delete every key older than LIFETIME (they are ignored already); returns how many."""
    cutoff = (now or timezone.now()) - LIFETIME
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def cleanup_step(now: dt.datetime, dry_run: bool) -> tuple[int, tuple[str, str], str]:
    """`manage.py cleanup`'s step for keys (studies.housekeeping)."""
    if dry_run:
        count = IdempotencyKey.objects.filter(created_at__lt=now - LIFETIME).count()
    else:
        count = purge_expired(now)
    return count, ("idempotency key", "idempotency keys"), " older than a day"
