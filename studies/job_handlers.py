"""The studies app's jobs (see studies.jobs): importing transcripts that wait as PendingImport
rows, so that a worker on any host reads the same bytes the owner previewed."""

from __future__ import annotations

import uuid

from django.urls import reverse

from studies.jobs import JobFailed, Outcome, Progress, start_job
from studies.models import Job, PendingImport, Study
from studies.pseudonymise import Decisions
from studies.services import FileRejected, describe_outcomes, import_transcripts


def start_transcript_import(
    *,
    study: Study,
    user: object,
    batch: uuid.UUID,
    mapping: dict[str, str] | None,
    language: str | None,
    pseudonymise: bool,
    decisions: dict[str, Decisions] | None = None,
    discard_on_failure: bool = False,
) -> Job:
    """Import the pending transcripts of `batch` (the owner's upload) as a job. A refused
    upload is kept for the review page to show again, unless `discard_on_failure` (the API's:
    nobody comes back to it). Confirmed again while its job waits or runs (a double click),
    the upload's job is that same one; once that job has stalled, a new one starts."""
    pending = PendingImport.objects.filter(study=study, user=user, batch=batch)
    n = pending.count()
    return start_job(
        study=study,
        user=user,
        kind="import",
        title=f"Importing {n} transcript{'s' if n != 1 else ''}",
        handler="studies.job_handlers.transcript_import",
        params={
            "batch": str(batch),
            "mapping": mapping,
            "language": language,
            "pseudonymise": pseudonymise,
            "decisions": {
                name: {"each": dict(d.each), "kinds": dict(d.kinds)}
                for name, d in (decisions or {}).items()
            },
            "discard_on_failure": discard_on_failure,
        },
        once_per=["batch"],
    )


def transcript_import(job: Job, progress: Progress) -> Outcome:
    params = job.params
    pending = list(
        PendingImport.objects.filter(
            study=job.study, user=job.user, batch=params["batch"], kind="transcript"
        )
        .select_related("workshop")
        .order_by("pk")
    )
    if not pending:
        raise JobFailed("Nothing was imported: this upload was already imported or cancelled.")
    try:
        outcomes = import_transcripts(
            study=job.study,
            workshop=pending[0].workshop,
            files=[(p.filename, bytes(p.data)) for p in pending],
            user=job.user,
            mapping=params.get("mapping"),
            language=params.get("language") or pending[0].language or None,
            pseudonymise=bool(params.get("pseudonymise")),
            decisions={
                name: Decisions(each=d.get("each", {}), kinds=d.get("kinds", {}))
                for name, d in (params.get("decisions") or {}).items()
            },
            progress=progress,
            # The upload goes with the import's commit: a worker stopped in between cannot
            # leave a saved import whose upload still waits to be confirmed.
            in_transaction=lambda: PendingImport.objects.filter(
                pk__in=[p.pk for p in pending]
            ).delete(),
        )
    except FileRejected as exc:
        if params.get("discard_on_failure"):
            PendingImport.objects.filter(pk__in=[p.pk for p in pending]).delete()
        raise JobFailed(f"Nothing was imported: {exc}", data={"file": [str(exc)]}) from None
    return Outcome(
        message=describe_outcomes(outcomes),
        next_url=reverse("studies:documents", kwargs={"slug": job.study.slug}),
        data={
            "applied": True,
            "summary": describe_outcomes(outcomes),
            "documents": [
                {
                    "id": o.document.pk,
                    "title": o.document.title,
                    "status": o.status,
                    "turns": o.turns,
                    "sentences": o.sentences,
                    "words": o.words,
                    **({"pseudonymised": o.pseudonymised} if params.get("pseudonymise") else {}),
                }
                for o in outcomes
            ],
        },
    )
