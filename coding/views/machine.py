"""The Machine coding page: train the learned engine on a layer and see its cross-validated
agreement per code before its suggestions, switch the study's LLM suggestions on, and ask either
engine for suggestions in chosen documents. Owners run; every member reads the figures (coders
only while blind coding is off, as on the Reliability page). Training and suggesting run as jobs
(coding.jobs): in the request by default, else in a worker while the job's page shows progress."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from coding.jobs import start_suggestions, start_training
from coding.machine import MachineError, actions, current_machine_coders
from coding.models import MachineCoder, TrainingExample
from coding.views.reliability import blind_wall
from studies.access import get_study_for_user
from studies.jobs import runs_in_background
from studies.models import Job, Membership
from studies.views_jobs import job_response


def _llm_reason(study: object) -> str:
    try:
        from coding.machine import llm
    except ImportError:
        return "the language model engine is not installed"
    return llm.llm_available(study)


@login_required
def machine_page(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    if wall := blind_wall(request, study):
        return wall
    machines = current_machine_coders(study)
    learned = next((m for m in machines if m.engine == MachineCoder.Engine.LEARNED), None)
    llm = next((m for m in machines if m.engine == MachineCoder.Engine.LLM), None)
    last_layer = actions.last_trained_layer(study)
    uncoded = actions.uncoded_documents(study, last_layer or None)
    rows = actions.metric_rows(learned) if learned else []
    thresholds = sorted({t for row in rows for t, _p, _c in row.curve})
    return render(
        request,
        "coding/machine.html",
        {
            "study": study,
            "can_run": actions.may_run(study),
            "learned": learned,
            "llm": llm,
            "rows": rows,
            "thresholds": thresholds,
            "curve_rows": [
                (row, [{t: (p, c) for t, p, c in row.curve}.get(t) for t in thresholds])
                for row in rows
            ],
            "layers": actions.layer_choices(study),
            "last_layer": last_layer,
            "documents": [
                (d, d.pk in uncoded) for d in study.documents.order_by("title").only("title")
            ],
            "llm_reason": _llm_reason(study),
            "examples": TrainingExample.objects.filter(study=study).count(),
            "history": list(
                MachineCoder.objects.filter(study=study).order_by("engine", "-version")[:20]
            ),
        },
    )


def _back(study: object) -> HttpResponse:
    return redirect(reverse("coding:machine", args=[study.slug]))


def _answer(request: HttpRequest, job: Job) -> HttpResponse:
    """After starting a job: under the immediate backend, as before jobs (its message, or its
    failure, on this page); with a worker, the job's page."""
    if job.status == Job.Status.FAILED and not runs_in_background():
        messages.error(request, job.error)
        return _back(job.study)
    return job_response(request, job)


@login_required
@require_POST
def machine_train(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=Membership.Role.OWNER)
    asked = request.POST.get("layer")
    try:
        actions.parse_layer(study, asked)
    except MachineError as error:
        messages.error(request, f"Not trained: {error}.")
        return _back(study)
    return _answer(request, start_training(study=study, user=request.user, layer=asked))


@login_required
@require_POST
def machine_suggest(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=Membership.Role.OWNER)
    engine = request.POST.get("engine", "")
    try:
        documents = actions.documents_of(study, request.POST.getlist("document"))
    except MachineError as error:
        messages.error(request, f"No suggestions: {error}.")
        return _back(study)
    job = start_suggestions(study=study, user=request.user, engine=engine, documents=documents)
    return _answer(request, job)


@login_required
@require_POST
def machine_llm(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=Membership.Role.OWNER)
    on = request.POST.get("llm_suggestions") == "on"
    actions.set_llm_suggestions(study, on, user=request.user)
    if on:
        reason = _llm_reason(study)
        messages.success(
            request,
            "LLM suggestions are on." + (f" They cannot run yet: {reason}." if reason else ""),
        )
    else:
        messages.success(request, "LLM suggestions are off: no text is sent to the model.")
    return _back(study)
