"""Structured logs: every line says which request (or which job) it belongs to.

`RequestIdMiddleware` (first in MIDDLEWARE) takes the request's id from an `X-Request-ID`
header set by a proxy or a client, when it is a sane token, or makes one; keeps it in a context
variable for the request's duration; sends it back in the response's `X-Request-ID`; and writes
one access line per request under `colloquy.request`. `RequestContextFilter` puts the id (and
the user, path, status and duration where known) on every log record, so a formatter can print
them; `JsonFormatter` writes one JSON object a line (LOG_FORMAT=json). A job running in a
worker logs under the id `job-<id>` (`job_context`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

access_logger = logging.getLogger("colloquy.request")

HEADER = "X-Request-ID"
# What a proxy's or client's id may look like to be kept: short, and nothing that could break a
# log line or a header (no spaces, quotes or control characters).
SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

request_id: ContextVar[str] = ContextVar("request_id", default="-")
user_id: ContextVar[int | None] = ContextVar("user_id", default=None)
request_path: ContextVar[str] = ContextVar("request_path", default="")


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(value: str | None) -> str | None:
    """The given id if it is safe to log and send back, else None."""
    if value and SANE_ID.fullmatch(value):
        return value
    return None


def current_request_id() -> str:
    return request_id.get()


@contextlib.contextmanager
def job_context(job_id: int) -> Iterator[str]:
    """While a job runs, its log lines carry `job-<id>` where a request's id would be."""
    token = request_id.set(f"job-{job_id}")
    try:
        yield request_id.get()
    finally:
        request_id.reset(token)


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = sane_request_id(request.headers.get(HEADER)) or new_request_id()
        request.request_id = rid
        # Not reset when this returns: Django logs a failed request ("Not Found: ...") after the
        # middleware, and that line should carry the id too. `forget_request` clears them when
        # the response is closed (request_finished).
        request_id.set(rid)
        request_path.set(request.path)
        user_id.set(None)
        started = time.monotonic()
        response = self.get_response(request)
        user = getattr(request, "user", None)
        uid = user.pk if user is not None and user.is_authenticated else None
        user_id.set(uid)
        response[HEADER] = rid
        # A load balancer's health probes every few seconds would drown the access log.
        quiet = request.path == "/health/" and response.status_code == 200
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        access_logger.log(
            logging.DEBUG if quiet else logging.INFO,
            "%s %s %s %.0fms",
            request.method,
            request.path,
            response.status_code,
            duration_ms,
            extra={
                "method": request.method,
                "status": response.status_code,
                "duration_ms": duration_ms,
            },
        )
        return response


@receiver(request_finished)
def forget_request(**kwargs: object) -> None:
    request_id.set("-")
    request_path.set("")
    user_id.set(None)


class RequestContextFilter(logging.Filter):
    """Adds request_id, user_id and path (from the context) to every record, and empty status
    and duration_ms where the record has none, so any format string can name them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        if not hasattr(record, "user_id"):
            record.user_id = user_id.get()
        if not hasattr(record, "path"):
            record.path = request_path.get()
        for name in ("method", "status", "duration_ms"):
            if not hasattr(record, name):
                setattr(record, name, None)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request_id,
    the request's user_id, path, status and duration_ms where known, and the exception's text."""

    FIELDS = ("request_id", "user_id", "method", "path", "status", "duration_ms")

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in self.FIELDS:
            value = getattr(record, name, None)
            if name == "request_id" and value is None:
                value = request_id.get()
            if value not in (None, ""):
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
