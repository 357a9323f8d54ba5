"""The exports app's jobs (see studies.jobs): the paper pack, whose figures take seconds to draw,
made in a worker and kept as a file for the person who asked."""

from __future__ import annotations

from exports.base import ExportError
from exports.pack import build_pack
from exports.tables import export_layer
from studies.audit import record_export
from studies.jobs import JobFailed, Outcome, Progress, start_job
from studies.models import Job, Study


def start_pack(*, study: Study, user: object, layer: str) -> Job:
    """The paper pack of `layer` (already checked against the user's access) as a job."""
    of = f" ({layer} layer)" if layer else ""
    return start_job(
        study=study,
        user=user,
        kind="pack",
        title=f"Paper pack{of}",
        handler="exports.jobs.paper_pack",
        params={"layer": layer},
    )


def paper_pack(job: Job, progress: Progress) -> Outcome:
    study = job.study
    # The layer is checked again as the job runs: blind coding may have been turned on since.
    layer = export_layer(study.access, job.params.get("layer", "")) or ""
    try:
        content = build_pack(study, layer=layer or None, user=job.user, progress=progress)
    except ExportError as exc:
        raise JobFailed(str(exc)) from None
    filename = f"{study.slug}_pack.zip"
    record_export(study, "the paper pack", filename, details={"layer": layer})
    return Outcome(
        message=f"The paper pack is ready: every table and figure of {study.name}.",
        file=(filename, "application/zip", content),
    )
