"""The exports app's jobs (see studies.jobs): the paper pack, whose figures take seconds to draw,
made in a worker and kept as a file for the person who asked; the study as a REFI-QDA project
(.qdpx) likewise; and a REFI-QDA project imported from its PendingImport row, so that a worker on
any host reads the same bytes the owner previewed.

The pages import this module to start jobs; the handlers import what they run (the pack loads
pandas and matplotlib), so a page that only starts a job does not load it.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from django.urls import reverse

from exports.base import ExportError
from studies.access import OWNER
from studies.audit import record_export
from studies.importers import FileRejected
from studies.jobs import JobFailed, Outcome, Progress, require, start_job
from studies.models import Job, PendingImport, Study

if TYPE_CHECKING:
    from exports.qdpx import QdpxPlan

# A confirmation whose preview no longer matches the study (see plan_digest).
STALE = (
    "Nothing was imported: the study changed since the preview. Open the import's preview "
    "again to see what the file would change now."
)


def start_pack(*, study: Study, user: object, layer: str) -> Job:
    """The paper pack of `layer` (already checked against the user's access) as a job. Asked
    for again while the same pack waits or runs (a second click, a prefetched link), the
    answer is that job, not another."""
    of = f" ({layer} layer)" if layer else ""
    return start_job(
        study=study,
        user=user,
        kind="pack",
        title=f"Paper pack{of}",
        handler="exports.jobs.paper_pack",
        params={"layer": layer},
        once_per=["layer"],
    )


def paper_pack(job: Job, progress: Progress) -> Outcome:
    from exports.pack import build_pack
    from exports.tables import export_layer

    study = job.study
    try:
        # The layer is checked again as the job runs: blind coding may have been turned on
        # since (a refusal is an ExportError, worded for the person).
        layer = export_layer(study.access, job.params.get("layer", "")) or ""
        content = build_pack(study, layer=layer or None, user=job.user, progress=progress)
    except ExportError as exc:
        raise JobFailed(str(exc)) from None
    filename = f"{study.slug}_pack.zip"
    record_export(study, "the paper pack", filename, details={"layer": layer})
    return Outcome(
        message=f"The paper pack is ready: every table and figure of {study.name}.",
        file=(filename, "application/zip", content),
    )


# --- REFI-QDA -------------------------------------------------------------------------------


def start_qdpx_export(*, study: Study, user: object) -> Job:
    """The study as a REFI-QDA project (.qdpx) as a job (owners)."""
    return start_job(
        study=study,
        user=user,
        kind="qdpx-export",
        title="REFI-QDA project (.qdpx)",
        handler="exports.jobs.qdpx_export",
    )


def qdpx_export(job: Job, progress: Progress) -> Outcome:
    from exports.qdpx import write_qdpx

    study = job.study
    # The project holds every coder's codings: owners only, checked again as it runs. An
    # archived study can still be exported.
    require(job, OWNER, archived_ok=True)
    progress(0, 0, "Writing the project")
    data, _counts = write_qdpx(study)
    filename = f"{study.slug}.qdpx"
    record_export(study, "the REFI-QDA project", filename)
    return Outcome(
        message=f"The REFI-QDA project of {study.name} is ready.",
        file=(filename, "application/zip", data),
    )


def plan_digest(plan: QdpxPlan) -> str:
    """What the preview showed, in short: a confirmation imports only what was shown."""
    shown = json.dumps(plan.report(), sort_keys=True, default=str)
    return hashlib.sha256(shown.encode()).hexdigest()


def start_qdpx_import(
    *,
    study: Study,
    user: object,
    pending: PendingImport,
    pseudonymise: bool,
    keep_kinds: list[str] | None = None,
    digest: str | None = None,
) -> Job:
    """Import the REFI-QDA file waiting as `pending` (the owner's upload) as a job. With
    `digest` (plan_digest of the preview the owner confirmed), a study changed since the
    preview fails with STALE and keeps the upload for a new preview."""
    return start_job(
        study=study,
        user=user,
        kind="qdpx-import",
        title=f"Importing {pending.filename}",
        handler="exports.jobs.qdpx_import",
        params={
            "upload": str(pending.batch),
            "pseudonymise": pseudonymise,
            "keep": list(keep_kinds or []),
            "digest": digest,
        },
    )


def qdpx_import(job: Job, progress: Progress) -> Outcome:
    from exports.qdpx import apply_qdpx, plan_qdpx

    study, params = job.study, job.params
    require(job, OWNER)
    pending = (
        PendingImport.objects.filter(
            study=study, user=job.user, batch=params["upload"], kind=PendingImport.Kind.PROJECT
        )
        .select_related("workshop")
        .first()
    )
    if pending is None:
        raise JobFailed("Nothing was imported: this upload was already imported or cancelled.")
    progress(0, 0, f"Reading {pending.filename}")
    try:
        plan = plan_qdpx(
            study=study,
            filename=pending.filename,
            data=bytes(pending.data),
            user=job.user,
            workshop=pending.workshop,
            pseudonymise=bool(params.get("pseudonymise")),
            keep_kinds=params.get("keep") or [],
        )
        if params.get("digest") is not None and plan_digest(plan) != params["digest"]:
            raise JobFailed(STALE, data={"stale": True})
        progress(0, 0, "Writing")
        apply_qdpx(study=study, plan=plan, user=job.user)
    except FileRejected as exc:
        pending.delete()
        raise JobFailed(f"Nothing was imported: {exc}", data={"file": [str(exc)]}) from None
    pending.delete()
    return Outcome(
        message=plan.summary(),
        next_url=reverse("studies:overview", kwargs={"slug": study.slug}),
        data={"applied": plan.has_changes, "dry_run": False, **plan.report()},
    )
