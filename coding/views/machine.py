"""The Machine coding page: train the learned engine on a layer and see its cross-validated
agreement per code before its suggestions, switch the study's LLM suggestions on, and ask either
engine for suggestions in chosen documents. Owners run; every member reads the figures (coders
only while blind coding is off, as on the Reliability page). Long work runs in the request."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from coding.machine import MachineError, actions, current_machine_coders
from coding.models import MachineCoder, TrainingExample
from coding.views.reliability import blind_wall
from studies.access import get_study_for_user
from studies.models import Membership


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


@login_required
@require_POST
def machine_train(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=Membership.Role.OWNER)
    try:
        layer = actions.parse_layer(study, request.POST.get("layer"))
        machine = actions.train_learned(study, layer, user=request.user)
    except MachineError as error:
        messages.error(request, f"Not trained: {error}.")
    else:
        messages.success(
            request,
            f"Trained {machine.label}. Check its agreement below before asking for suggestions.",
        )
    return _back(study)


@login_required
@require_POST
def machine_suggest(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=Membership.Role.OWNER)
    engine = request.POST.get("engine", "")
    try:
        documents = actions.documents_of(study, request.POST.getlist("document"))
        run = actions.suggest(study, engine, documents, user=request.user)
    except MachineError as error:
        messages.error(request, f"No suggestions: {error}.")
    else:
        noun = "suggestion" if run.suggestions == 1 else "suggestions"
        where = "document" if run.documents == 1 else "documents"
        messages.success(
            request,
            f"{run.machine}: {run.suggestions} {noun} in {run.documents} {where}, "
            "shown in the coding view under Show suggestions.",
        )
    return _back(study)


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
