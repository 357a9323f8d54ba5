"""Coding activity for the audit trail, read from the codings themselves.

Saving a coding stays one INSERT (it is the hottest write of the product), so codings are not
audit events: each one already carries its coder, document, layer and time. The audit page
groups them into one line per (day, coder, document, layer), timed at the group's latest
coding. Removed codings are gone from here; `coding.services.remove_codings` records those.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max
from django.db.models.functions import TruncDate

from coding.models import Coding
from studies.audit import AuditFilters
from studies.models import AuditEvent, Study
from studies.wording import plural


@dataclass(frozen=True)
class CodingActivity:
    """One coder's codings of one document in one layer on one day."""

    time: dt.datetime  # the group's latest coding
    day: dt.date
    username: str
    document_id: int
    document: str
    consensus: bool
    count: int

    @property
    def summary(self) -> str:
        layer = " (consensus layer)" if self.consensus else ""
        return f"{self.username} coded {plural(self.count, 'passage')} in {self.document}{layer}"


def coding_activity(study: Study, filters: AuditFilters) -> list[CodingActivity]:
    """The study's coding activity that passes `filters` (kind "coding" or none, the coder, the
    days), newest first, in one query."""
    if filters.kind and filters.kind != AuditEvent.Action.CODING:
        return []
    # Machine suggestions are not coding: each run of a model is an event of its own.
    codings = Coding.objects.filter(document__study=study).by_people()
    if filters.person:
        codings = codings.filter(coder__username=filters.person)
    codings = codings.annotate(day=TruncDate("created_at"))
    if filters.since:
        codings = codings.filter(day__gte=filters.since)
    if filters.until:
        codings = codings.filter(day__lte=filters.until)
    groups = (
        codings.values("day", "coder__username", "document_id", "document__title", "consensus")
        .annotate(count=Count("pk"), time=Max("created_at"))
        .order_by("-time", "document_id")
    )
    return [
        CodingActivity(
            time=group["time"],
            day=group["day"],
            username=group["coder__username"],
            document_id=group["document_id"],
            document=group["document__title"],
            consensus=group["consensus"],
            count=group["count"],
        )
        for group in groups
    ]
