"""What a locked-out login gets (django-axes calls `lockout_response`, AXES_LOCKOUT_CALLABLE):
a page saying when to try again, or, from the API's token endpoint, a JSON error in the shape
of the API's other errors (`detail` and `code`), with Retry-After."""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone


def retry_after() -> timedelta:
    """How long until the lockout ends: the cool-off counts from the latest failed attempt,
    which is this one (an attempt during the lockout starts the cool-off again)."""
    return settings.AXES_COOLOFF_TIME


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    wait = retry_after()
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    until = timezone.localtime(timezone.now() + wait)
    status = settings.AXES_HTTP_RESPONSE_CODE
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {
                "detail": (
                    f"Too many failed logins for this username from this address: try again "
                    f"in {minutes} minutes (after {until:%H:%M} {until.tzname()})."
                ),
                "code": "locked_out",
                "retry_after_seconds": int(wait.total_seconds()),
            },
            status=status,
        )
    else:
        response = render(
            request,
            "registration/lockout.html",
            {
                "minutes": minutes,
                "until": until,
                "failure_limit": settings.AXES_FAILURE_LIMIT,
            },
            status=status,
        )
    response["Retry-After"] = str(int(wait.total_seconds()))
    return response
