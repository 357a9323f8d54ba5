"""The coding app's jobs (see studies.jobs): training the learned engine (cross-validation takes
seconds to minutes) and asking an engine for suggestions (the LLM's calls take as long as the
model thinks), run through the same `coding.machine.actions` as before, in a worker when one is
configured. Owners only, checked again as the job runs."""

from __future__ import annotations

from collections.abc import Sequence

from django.urls import reverse
from django.utils.http import urlencode

from coding.machine import MachineError, actions
from coding.reliability import Scope
from studies.access import OWNER, VIEWER
from studies.jobs import JobFailed, Outcome, Progress, require, start_job
from studies.models import Document, Job, Study
from studies.wording import plural


def _machine_page(study: Study) -> str:
    return reverse("coding:machine", kwargs={"slug": study.slug})


def start_training(*, study: Study, user: object, layer: str) -> Job:
    """Train a new version of the learned engine on `layer` ("consensus", or a person's user
    id or username, already checked by actions.parse_layer) as a job."""
    return start_job(
        study=study,
        user=user,
        kind="train",
        title="Training the learned engine",
        handler="coding.jobs.train",
        params={"layer": str(layer)},
    )


def train(job: Job, progress: Progress) -> Outcome:
    study = job.study
    require(job, OWNER)
    progress(0, 0, "Cross-validating and training", force=True)
    try:
        # The layer is read again as the job runs: its coder may have left since.
        layer = actions.parse_layer(study, job.params.get("layer"))
        machine = actions.train_learned(study, layer, user=job.user)
    except MachineError as error:
        raise JobFailed(f"Not trained: {error}.", data={"layer": [str(error)]}) from None
    return Outcome(
        message=f"Trained {machine.label}. Check its agreement below before asking for "
        "suggestions.",
        next_url=_machine_page(study),
        data=actions.machine_json(machine),
    )


def start_suggestions(
    *, study: Study, user: object, engine: str, documents: Sequence[Document]
) -> Job:
    """Ask `engine` ("learned" or "llm") for suggestions in `documents` (already checked by
    actions.documents_of) as a job."""
    n = len(documents)
    name = "the language model" if engine == "llm" else f"the {engine} engine"
    return start_job(
        study=study,
        user=user,
        kind="suggest",
        title=f"Suggestions from {name} in {n} document{'s' if n != 1 else ''}",
        handler="coding.jobs.suggest",
        params={"engine": engine, "documents": [d.pk for d in documents]},
    )


def suggest(job: Job, progress: Progress) -> Outcome:
    study, params = job.study, job.params
    require(job, OWNER)
    try:
        # Documents deleted since it was asked for are named, and nothing is suggested.
        documents = actions.documents_of(study, params.get("documents") or [])
    except MachineError as error:
        raise JobFailed(f"No suggestions: {error}.", data={"documents": [str(error)]}) from None
    progress(0, 0, "Suggesting", force=True)
    try:
        run = actions.suggest(
            study, params.get("engine", ""), documents, user=job.user, progress=progress
        )
    except MachineError as error:
        raise JobFailed(f"No suggestions: {error}.", data={"engine": [str(error)]}) from None
    noun = "suggestion" if run.suggestions == 1 else "suggestions"
    where = "document" if run.documents == 1 else "documents"
    return Outcome(
        message=f"{run.machine}: {run.suggestions} {noun} in {run.documents} {where}, "
        "shown in the coding view under Show suggestions.",
        next_url=_machine_page(study),
        data=run.as_json(),
    )


# --- Agreement over a large study -----------------------------------------------------------

BLIND = "While blind coding is on, coders do not see agreement figures; owners and viewers do."


def start_reliability(*, study: Study, user: object, scope: Scope) -> Job:
    """The reliability table of `scope` as a job (the page does this for a large study; the
    API on request). Asked for again while the same table waits or runs, the answer is that
    job, not another."""
    params = scope.params()
    of = f", round “{scope.agreement_round.name}”" if scope.agreement_round else ""
    return start_job(
        study=study,
        user=user,
        kind="reliability",
        title=f"Agreement by {scope.unit}{of}",
        handler="coding.jobs.reliability",
        params=params,
        once_per=list(params),
    )


def reliability(job: Job, progress: Progress) -> Outcome:
    from coding.reliability import ScopeError, machine_labels

    study = job.study
    require(job, VIEWER, archived_ok=True)
    # Blind coding may have been turned on since it was asked for.
    if not study.access.sees_others:
        raise JobFailed(BLIND)
    try:
        scope = Scope.from_params(study, job.params)
        progress(0, 0, "Reading the documents' codings", force=True)
        report = scope.compute(study, progress=progress)
    except ScopeError as error:
        raise JobFailed(f"No agreement computed: {error}", data={"round": [str(error)]}) from None
    except ValueError as error:
        raise JobFailed(f"No agreement computed: {error}.", data={"coders": [str(error)]}) from None
    labels = machine_labels(study)
    alpha = report.overall.krippendorff_alpha
    pooled = "undefined" if alpha is None else f"{alpha:.3f}"
    url = reverse("coding:reliability", kwargs={"slug": study.slug})
    return Outcome(
        message=f"Agreement of {plural(len(report.coders), 'coder')} over "
        f"{plural(len(report.documents), 'document')} by {report.unit}: Krippendorff's alpha, "
        f"all codes pooled, {pooled}.",
        next_url=f"{url}?{urlencode({'job': job.pk})}",
        data={
            **report.stored(),
            "machines": {name: labels[name] for name in report.coders if name in labels},
        },
    )
