"""The audit trail: who did what to a study, when, and through what (web, api, command).

Every write path that an ethics board would ask about calls `record` once per action (an
import, a codebook change, an adjudication, an export, a role change, a withdrawal, ...), in
the same transaction as the change, so that a change that is rolled back leaves no event.
Who acted comes from the request being served (`AuditMiddleware`; DRF's authentication sets
the same request's user, so API tokens count too) unless the caller names the person; a
management command records no user and "command".

Codings themselves are not events: each one already carries its coder and time, and the audit
page reads them from there (one INSERT per click stays one INSERT).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import PurePath

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from studies.models import AuditEvent, Study

_request: ContextVar[HttpRequest | None] = ContextVar("colloquy_audit_request", default=None)

# Set while a larger action runs (a REFI-QDA project import applies a codebook, a roster and
# transcripts): the parts it is made of record nothing, and the whole records one event.
_covered: ContextVar[bool] = ContextVar("colloquy_audit_covered", default=False)

# Set while a background job runs (studies.jobs): the person who started it is the actor.
_job_user: ContextVar[tuple[object, str] | None] = ContextVar(
    "colloquy_audit_job_user", default=None
)

WEB, API, COMMAND, JOB = "web", "api", "command", "job"
VIA_LABELS = {WEB: "Web", API: "API", COMMAND: "Command", JOB: "Job"}


class AuditMiddleware:
    """Makes the request being served known to `record` (after AuthenticationMiddleware)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def current_actor() -> tuple[object | None, str]:
    """(the signed-in user or None, how they reach us: "web", "api", "command", or "job" for
    work a person started that runs in the background)."""
    job_user = _job_user.get()
    if job_user is not None:
        return job_user
    request = _request.get()
    if request is None:
        return None, COMMAND
    user = getattr(request, "user", None)
    via = API if request.path.startswith("/api/") else WEB
    return (user if user is not None and user.is_authenticated else None), via


def record(
    study: Study | None,
    action: str,
    summary: str,
    *,
    user: object | None = None,
    details: dict | None = None,
) -> AuditEvent | None:
    """Write one event (none inside `covered`). `action` is an AuditEvent.Action; `summary`
    one readable line ("Imported 3 transcripts into FI-1"); `details` what a script may want
    (ids, counts)."""
    if _covered.get():
        return None
    actor, via = current_actor()
    user = user if user is not None and getattr(user, "pk", None) else actor
    return AuditEvent.objects.create(
        study=study,
        study_slug=study.slug if study is not None else "",
        user=user,
        username=user.get_username() if user is not None else "",
        via=via,
        action=action,
        summary=summary[:500],
        details=details or {},
    )


@contextmanager
def acting_for(user: object, via: str = "") -> Iterator[None]:
    """Inside, `record` attributes events to `user`, reached `via` the channel the job was
    asked for on (web, api), or "job" when unknown."""
    token = _job_user.set((user, via or JOB))
    try:
        yield
    finally:
        _job_user.reset(token)


@contextmanager
def covered() -> Iterator[None]:
    """Inside, `record` writes nothing: the caller records the whole action as one event."""
    token = _covered.set(True)
    try:
        yield
    finally:
        _covered.reset(token)


def record_export(
    study: Study, what: str, filename: str, *, details: dict | None = None
) -> AuditEvent | None:
    """One download or written export file: 'Exported the crosstab table as .xlsx'. Every
    download path (pages, API, commands) calls this with what it produced."""
    suffix = PurePath(filename).suffix.lower() or "a file"
    return record(
        study,
        AuditEvent.Action.EXPORT,
        f"Exported {what} as {suffix}",
        details={"file": PurePath(filename).name, **(details or {})},
    )


# --- Reading the trail ----------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """What the audit page, its .csv and the API were asked to show: a kind of action (an
    AuditEvent.Action value), a person (username) and a range of days (both ends included, in
    the site's time zone). `problems` names what could not be read; it is left out."""

    kind: str = ""
    person: str = ""
    since: dt.date | None = None
    until: dt.date | None = None
    problems: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> AuditFilters:
        problems = []
        kind = (query.get("kind") or "").strip()
        if kind and kind not in AuditEvent.Action.values:
            problems.append(
                f"kind: there is no kind of action “{kind}”: choose one of "
                f"{', '.join(AuditEvent.Action.values)}."
            )
            kind = ""
        dates: dict[str, dt.date | None] = {}
        for name in ("since", "until"):
            raw = (query.get(name) or "").strip()
            dates[name] = None
            if raw:
                try:
                    dates[name] = dt.date.fromisoformat(raw)
                except ValueError:
                    problems.append(f"{name}: “{raw}” is not a date like 2026-03-31.")
        return cls(
            kind=kind,
            person=(query.get("person") or "").strip(),
            since=dates["since"],
            until=dates["until"],
            problems=tuple(problems),
        )

    def query(self) -> dict[str, str]:
        """The filters as query parameters (for the .csv link and the pages)."""
        values = {
            "kind": self.kind,
            "person": self.person,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {name: value for name, value in values.items() if value}


def events(study: Study, filters: AuditFilters) -> QuerySet[AuditEvent]:
    """The study's recorded events that pass `filters`, newest first."""
    found = AuditEvent.objects.filter(study=study)
    if filters.kind:
        found = found.filter(action=filters.kind)
    if filters.person:
        found = found.filter(username=filters.person)
    if filters.since:
        found = found.filter(created_at__date__gte=filters.since)
    if filters.until:
        found = found.filter(created_at__date__lte=filters.until)
    return found.order_by("-created_at", "-pk")
