"""The audit trail page: who imported, coded, changed the codebook, adjudicated, exported,
changed roles or withdrew a participant, when, and through what (web, API, command).

Two sources make one list, newest first: the recorded events (`studies.audit.events`) and the
coding activity read from the codings themselves (`coding.audit.coding_activity`: one line per
day, coder, document and layer). Both live below this app, so the page that merges them lives
here (exports builds on studies and coding). The page, its .csv and the API
(`exports.api_audit`) read the same filters and the same list. Owners only.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from coding.audit import coding_activity
from coding.models import Coding
from exports.views import attachment
from studies.access import OWNER, get_study_for_user
from studies.audit import VIA_LABELS, AuditFilters, events, record_export
from studies.models import AuditEvent, Study
from studies.sheets import write_csv

PER_PAGE = 100
KIND_LABELS = dict(AuditEvent.Action.choices)
CSV_COLUMNS = ["time", "person", "channel", "kind", "summary", "details"]


@dataclass(frozen=True)
class AuditEntry:
    """One line of the trail: a recorded event, or a group of codings (`via` empty: a coding
    does not say whether it came from a page or the API)."""

    time: dt.datetime
    username: str
    via: str
    kind: str
    summary: str
    details: dict = field(default_factory=dict)

    @property
    def kind_label(self) -> str:
        return str(KIND_LABELS.get(self.kind, self.kind))

    @property
    def via_label(self) -> str:
        return VIA_LABELS.get(self.via, "")

    def as_json(self) -> dict[str, object]:
        return {
            "time": self.time.isoformat(),
            "person": self.username or None,
            "channel": self.via or None,
            "kind": self.kind,
            "kind_label": self.kind_label,
            "summary": self.summary,
            "details": self.details,
        }


def audit_entries(study: Study, filters: AuditFilters) -> list[AuditEntry]:
    """The study's trail that passes `filters`, newest first: the page, the .csv and the API
    all list this."""
    entries = [
        AuditEntry(e.created_at, e.username, e.via, e.action, e.summary, e.details)
        for e in events(study, filters).only(
            "created_at", "username", "via", "action", "summary", "details"
        )
    ]
    entries += [
        AuditEntry(
            a.time,
            a.username,
            "",
            AuditEvent.Action.CODING,
            a.summary,
            {
                "document": a.document_id,
                "codings": a.count,
                "day": a.day.isoformat(),
                "consensus": a.consensus,
            },
        )
        for a in coding_activity(study, filters)
    ]
    entries.sort(key=lambda entry: entry.time, reverse=True)
    return entries


def people(study: Study) -> list[str]:
    """Everyone who appears in the trail, for the person filter."""
    names = set(
        AuditEvent.objects.filter(study=study)
        .exclude(username="")
        .values_list("username", flat=True)
        .distinct()
    )
    names |= set(
        Coding.objects.filter(document__study=study)
        .values_list("coder__username", flat=True)
        .distinct()
    )
    names |= set(study.memberships.values_list("user__username", flat=True))
    return sorted(names, key=str.casefold)


def csv_content(entries: list[AuditEntry]) -> bytes:
    """The trail as .csv, through the project's CSV writer: a summary that starts with = + - @
    reaches a spreadsheet as text, never as a formula."""
    rows = (
        [
            timezone.localtime(entry.time).isoformat(timespec="seconds"),
            entry.username,
            entry.via,
            entry.kind,
            entry.summary,
            json.dumps(entry.details, ensure_ascii=False, sort_keys=True, default=str),
        ]
        for entry in entries
    )
    return write_csv(CSV_COLUMNS, rows, bom=True)


def _study(request: HttpRequest, slug: str) -> Study:
    # Reading the trail changes nothing, so an archived study's owners read it too.
    return get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)


@login_required
@require_GET
def audit_page(request: HttpRequest, slug: str) -> HttpResponse:
    study = _study(request, slug)
    filters = AuditFilters.from_query(request.GET)
    page = Paginator(audit_entries(study, filters), PER_PAGE).get_page(request.GET.get("page"))
    query = urlencode(filters.query())
    context = {
        "study": study,
        "filters": filters,
        "page": page,
        "pager_query": query,
        "csv_query": query,
        "kinds": AuditEvent.Action.choices,
        "people": people(study),
        "filtered": bool(filters.query()),
    }
    return render(request, "exports/audit.html", context)


@login_required
@require_GET
def audit_csv(request: HttpRequest, slug: str) -> HttpResponse:
    study = _study(request, slug)
    filters = AuditFilters.from_query(request.GET)
    if filters.problems:
        return HttpResponse(
            " ".join(filters.problems), status=400, content_type="text/plain; charset=utf-8"
        )
    content = csv_content(audit_entries(study, filters))
    filename = f"{study.slug}-audit.csv"
    record_export(study, "the audit trail", filename, details=filters.query())
    return attachment(content, "text/csv; charset=utf-8", filename)
